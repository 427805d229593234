#!/usr/bin/env python3
"""Makes a legacy MiniTwit SQLite file (the course's schema.sql) of a given size, for
measuring `minitwit-admin import` (BENCHMARKS.md). Standard library only.

    scripts/make-legacy-db.py OUT.db [--users N] [--messages N] [--follows N]

Every user's password is "legacy" (an unsalted hex MD5, as some teams stored it).
"""
import argparse
import hashlib
import os
import random
import sqlite3

SCHEMA = os.path.join(os.path.dirname(__file__), "..", "crates", "admin", "tests", "fixtures", "schema.sql")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--follows", type=int, default=100_000)
    a = p.parse_args()
    if os.path.exists(a.out):
        os.remove(a.out)
    rng = random.Random(1)
    db = sqlite3.connect(a.out)
    db.executescript(open(SCHEMA).read())
    pw = hashlib.md5(b"legacy").hexdigest()
    db.executemany(
        "INSERT INTO user VALUES (?, ?, ?, ?)",
        ((i, f"user {i}", f"user{i}@example.com", pw) for i in range(1, a.users + 1)),
    )
    pairs = set()
    while len(pairs) < min(a.follows, a.users * (a.users - 1)):
        x, y = rng.randint(1, a.users), rng.randint(1, a.users)
        if x != y:
            pairs.add((x, y))
    db.executemany("INSERT INTO follower VALUES (?, ?)", sorted(pairs))
    db.executemany(
        "INSERT INTO message VALUES (?, ?, ?, ?, ?)",
        (
            (i, rng.randint(1, a.users), f"message {i}: " + "lorem ipsum dolor sit amet " * rng.randint(1, 5),
             1_300_000_000 + i, 1 if i % 100 == 0 else 0)
            for i in range(1, a.messages + 1)
        ),
    )
    db.commit()
    db.close()


if __name__ == "__main__":
    main()
