"""Writers of tiny MovieLens directories in the exact official formats."""

from pathlib import Path

# (user, item, rating, timestamp); every user has 10 ratings so the split has
# train, validation and test rows.
RATINGS = [
    (u, i, float(1 + (u * 3 + i) % 5), 880_000_000 + u * 1000 + (i * 7 + u * 3) % 10)
    for u in range(1, 6)
    for i in range(1, 11)
]


def write_100k(root: Path) -> Path:
    d = root / "ml-100k"
    d.mkdir(parents=True)
    (d / "u.data").write_text("".join(f"{u}\t{i}\t{int(r)}\t{t}\n" for u, i, r, t in RATINGS))
    lines = []
    for i in range(1, 11):
        flags = ["0"] * 19
        flags[1 + i % 18] = "1"
        title = "Café Olé (1995)" if i == 1 else f"Movie {i} (19{80 + i})"
        lines.append(
            f"{i}|{title}|01-Jan-19{80 + i}||http://us.imdb.com/M/title-exact?x|" + "|".join(flags)
        )
    (d / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    (d / "u.user").write_text(
        "".join(f"{u}|{20 + u}|{'M' if u % 2 else 'F'}|writer|0{u}000\n" for u in range(1, 6))
    )
    return d


def write_1m(root: Path) -> Path:
    d = root / "ml-1m"
    d.mkdir(parents=True)
    (d / "ratings.dat").write_text("".join(f"{u}::{i}::{int(r)}::{t}\n" for u, i, r, t in RATINGS))
    movies = [
        f"{i}::{'Amélie (2001)' if i == 1 else f'Movie {i} (1990)'}::"
        f"{'Comedy|Romance' if i % 2 else 'Drama'}"
        for i in range(1, 11)
    ]
    (d / "movies.dat").write_bytes(("\n".join(movies) + "\n").encode("latin-1"))
    (d / "users.dat").write_text("".join(f"{u}::F::25::{u}::4810{u}\n" for u in range(1, 6)))
    return d


def write_latest(root: Path, name: str = "ml-latest-small", ratings=None) -> Path:
    d = root / name
    d.mkdir(parents=True)
    rows = ratings if ratings is not None else RATINGS
    (d / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n" + "".join(f"{u},{i},{r},{t}\n" for u, i, r, t in rows)
    )
    movies = ['1,"American President, The (1995)",Comedy|Drama|Romance']
    movies += [
        f"{i},Movie {i} (2000),(no genres listed)" if i == 2 else f"{i},Movie {i} (2000),Action"
        for i in range(2, 11)
    ]
    (d / "movies.csv").write_text("movieId,title,genres\n" + "\n".join(movies) + "\n")
    (d / "tags.csv").write_text(
        "userId,movieId,tag,timestamp\n1,1,Funny,1\n2,1,funny,2\n2,1,politics,3\n1,3,dark,4\n"
    )
    (d / "links.csv").write_text(
        "movieId,imdbId,tmdbId\n" + "".join(f"{i},011{i:04d},{900 + i}\n" for i in range(1, 11))
    )
    return d


# Rows in The Movies Dataset's format (movies_metadata.csv has 24 columns; the
# list columns are Python literals; one known malformed row has a date as id).
TMDB_HEADER = (
    "adult,belongs_to_collection,budget,genres,homepage,id,imdb_id,original_language,"
    "original_title,overview,popularity,poster_path,production_companies,"
    "production_countries,release_date,revenue,runtime,spoken_languages,status,tagline,"
    "title,video,vote_average,vote_count"
)


def write_tmdb(directory: Path) -> None:
    """movies_metadata.csv and keywords.csv for tmdb ids 901 and 903 (items 1 and 3)."""
    rows = [
        "False,,62000000,\"[{'id': 35, 'name': 'Comedy'}]\",,901,tt0112346,en,"
        'The American President,"A widowed U.S. president, and a lobbyist.",10.4,/p.jpg,'
        "\"[{'name': 'Castle Rock Entertainment', 'id': 97}, {'name': 'Columbia Pictures', "
        "'id': 5}]\",\"[{'iso_3166_1': 'US', 'name': 'United States of America'}]\","
        "1995-11-17,107879496,114.0,\"[{'iso_639_1': 'en', 'name': 'English'}]\",Released,,"
        "The American President,False,6.5,199.0",
        "False,,0,[],,903,tt0113041,en,Movie 3,Dark tale.,1.2,/q.jpg,[],[],1995-02-10,0,,"
        "[],Released,,Movie 3,False,5.0,12.0",
        " - Written by Ørnås,0.065736,/ff9qCepilowshEtG2GYWwzt2bs4.jpg,"
        "\"[{'name': 'Carousel Productions', 'id': 11176}]\",,1997-08-20,,,,,,,,,,,,,",
    ]
    (directory / "movies_metadata.csv").write_text(TMDB_HEADER + "\n" + "\n".join(rows) + "\n")
    (directory / "keywords.csv").write_text(
        "id,keywords\n"
        "901,\"[{'id': 931, 'name': 'white house'}, {'id': 9673, 'name': 'lobbyist'}]\"\n"
        "903,[]\n"
    )
