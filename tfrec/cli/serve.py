"""``tfrec serve`` (an export root over TF Serving's REST API) and ``tfrec serving config``."""

from __future__ import annotations

from tfrec.cli._common import finish


def add_parser(commands) -> None:
    """Adds ``serve`` and ``serving config`` to the ``tfrec`` sub-commands."""
    p = commands.add_parser("serve", help="serve an export root over TF Serving's REST API")
    p.add_argument(
        "--export-root",
        default="saved_models",
        metavar="DIR",
        help="folder of <model>/<version>/ exports (default: saved_models)",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8501, help="REST port (default 8501; 0: any free)")
    p.add_argument(
        "--engine",
        choices=("local", "tfserving"),
        default="local",
        help="local: tfrec's own server (default); tfserving: exec tensorflow_model_server",
    )
    p.add_argument("--grpc-port", type=int, default=8500, help="gRPC port (tfserving engine)")
    p.add_argument("--max-batch", type=int, default=1024, help="most rows per request")
    p.add_argument(
        "--versions",
        default="latest",
        metavar="POLICY",
        help="latest (default), all, or comma-separated version numbers",
    )
    p.add_argument(
        "--batching", action="store_true", help="tfserving engine: enable its request batching"
    )
    finish(p, run, tensorflow=True)

    serving = commands.add_parser("serving", help="TF Serving files").add_subparsers(
        metavar="COMMAND"
    )
    p = serving.add_parser("config", help="write models.config and batching.config")
    p.add_argument("--export-root", default="saved_models", metavar="DIR")
    p.add_argument("--out", metavar="FILE", help="default: EXPORT_ROOT/models.config")
    p.add_argument("--batching-out", metavar="FILE", help="default: EXPORT_ROOT/batching.config")
    p.add_argument(
        "--versions",
        default="latest",
        metavar="POLICY",
        help="model_version_policy: latest (default), all, or comma-separated versions",
    )
    p.add_argument(
        "--base-path-root",
        metavar="DIR",
        help="the export root as the server sees it, e.g. /models in a container "
        "(default: its absolute path here)",
    )
    p.add_argument("--max-batch-size", type=int, default=1024)
    p.add_argument("--batch-timeout-micros", type=int, default=0)
    p.add_argument(
        "--batch-threads", type=int, default=0, help="num_batch_threads (default: CPU count)"
    )
    finish(p, write_config)


def run(args) -> int:
    """Serves the export root until interrupted (or execs tensorflow_model_server)."""
    if args.engine == "tfserving":
        from tfrec.serving.config import Batching
        from tfrec.serving.model_server import exec_model_server

        if args.host != "127.0.0.1":
            print("note: tensorflow_model_server listens on all interfaces; --host is ignored")
        exec_model_server(  # replaces this process
            args.export_root,
            port=args.grpc_port,
            rest_port=args.port,
            versions=args.versions,
            batching=Batching(max_batch_size=args.max_batch) if args.batching else None,
        )
    else:
        from tfrec.serving.server import LocalServer

        with LocalServer(
            args.export_root,
            args.host,
            args.port,
            max_batch=args.max_batch,
            versions=args.versions,
        ) as server:
            print(server.describe(), flush=True)
            server.wait()
    return 0


def write_config(args) -> int:
    """Writes TF Serving's models.config and batching.config for the export root."""
    from tfrec.serving.config import Batching, write_configs
    from tfrec.serving.layout import model_versions

    batching = Batching(
        max_batch_size=args.max_batch_size,
        batch_timeout_micros=args.batch_timeout_micros,
        num_batch_threads=args.batch_threads,
    )
    out, batching_out = write_configs(
        args.export_root,
        args.out,
        args.batching_out,
        versions=args.versions,
        base_path_root=args.base_path_root,
        batching=batching,
    )
    names = ", ".join(model_versions(args.export_root))
    print(f"wrote {out} ({names}; versions: {args.versions}) and {batching_out}")
    return 0
