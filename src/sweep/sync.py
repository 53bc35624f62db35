"""`python -m sweep.sync`: send what a sweep spooled while its tracking server was silent.

    python -m sweep.sync                          # the spool in ./.sweep/spool, to its servers
    python -m sweep.sync --spool-dir DIR --tracking-uri http://host:5000

Entries go in the order they were written, each to the server and experiment it was meant
for (or to --tracking-uri). Replaying is idempotent (see sweep.track.spool): run it twice, or kill
it half-way and run it again, and no run is created twice and no metric step sent twice. The
last entries of a finished sweep are its parent run's summary and status, so the parent ends
up to date.
"""

from __future__ import annotations

import argparse
import os

from sweep.core.redact import guard_streams, redact


def main(argv: list[str] | None = None) -> None:
    from sweep.core.defaults import mlflow_defaults

    guard_streams()
    mlflow_defaults()
    parser = argparse.ArgumentParser(
        prog="python -m sweep.sync", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--spool-dir", default=".sweep/spool", help="default: .sweep/spool")
    parser.add_argument("--tracking-uri", default=None,
                        help="send everything here, not where it was meant to go")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        sent, uris = sync(args.spool_dir, args.tracking_uri)
    except Exception as ex:
        from sweep.core.errors import fail

        fail(ex)
    where = ", ".join(sorted(redact(u) for u in uris)) or "nowhere"
    print(f"Sent {sent} spooled entries to {where}; {args.spool_dir} is empty.")


def sync(spool_dir: str, uri: str | None = None) -> tuple[int, set[str]]:
    """Replay the whole spool; how many entries went, and to which servers."""
    from sweep.core.config import ConfigError
    from sweep.track.replay import Replayer
    from sweep.track.spool import Spool, replay
    from sweep.track.tracker import Tracker

    spool = Spool(spool_dir)
    if not spool.path.is_dir():
        raise ConfigError("--spool-dir", f"no spool at '{spool_dir}'")
    trackers: dict[tuple[str, str], Replayer] = {}

    def tracker_for(meant: str, experiment: str) -> Replayer:
        target = uri or meant
        if "***" in target:  # a password was never written to disk
            target = os.environ.get("MLFLOW_TRACKING_URI") or target
            if "***" in target:
                raise ConfigError("--tracking-uri", f"give the full URI for {meant}")
        if (target, experiment) not in trackers:
            trackers[target, experiment] = Replayer(Tracker(target, experiment))
        return trackers[target, experiment]

    sent = replay(spool, tracker_for)
    return sent, {u for u, _ in trackers}


if __name__ == "__main__":
    main()
