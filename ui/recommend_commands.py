"""``crossmedia recommend fit``: fit the recommender out of the request path.

Fits ALS on every event of the interaction store (on the GPU where implicit has CUDA) and saves
a versioned snapshot that every app process serving the library picks up (recsys.snapshots).
Run it once, from cron, or with ``--every SECONDS`` as a long-running background job.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ui.settings import DATABASE_URL_ENV, resolve_data_dir, resolve_snapshot_dir


def add_recommend_parser(sub: argparse._SubParsersAction) -> None:
    """The ``recommend`` command and its ``fit`` subcommand."""
    recommend = sub.add_parser("recommend", help="the recommender's offline jobs")
    what = recommend.add_subparsers(dest="what", required=True)
    fit = what.add_parser(
        "fit",
        help="fit ALS on all interactions and save a model snapshot the app processes serve",
    )
    fit.add_argument(
        "--data-dir", help="data directory (default: $CROSSMEDIA_HOME or the per-user folder)"
    )
    fit.add_argument(
        "--database-url",
        default=os.environ.get(DATABASE_URL_ENV),
        help="where the events live: an SQLAlchemy URL such as postgresql+psycopg://user@host/db"
        f" (also ${DATABASE_URL_ENV}; default: the SQLite file in the data directory)",
    )
    fit.add_argument(
        "--models",
        help="folder for the snapshots, readable by every app process (default: "
        "$CROSSMEDIA_RECSYS_MODELS or DATA_DIR/recsys-models)",
    )
    fit.add_argument(
        "--every",
        type=float,
        metavar="SECONDS",
        help="keep running: fit again every SECONDS when new events other than views came in "
        "(a view weighs nothing in the fit)",
    )
    device = fit.add_mutually_exclusive_group()
    device.add_argument("--cpu", action="store_true", help="fit on the CPU even with a GPU")
    device.add_argument("--gpu", action="store_true", help="fit on the GPU or fail")
    fit.add_argument("--factors", type=int, default=64)
    fit.add_argument("--iterations", type=int, default=15)
    fit.add_argument("--regularization", type=float, default=0.05)
    fit.add_argument("--alpha", type=float, default=2.0)
    fit.add_argument("--keep", type=int, default=3, help="snapshots kept (default 3)")
    fit.add_argument("--json", action="store_true", help="print the snapshot's summary as JSON")
    fit.add_argument("-v", "--verbose", action="store_true", help="log debug details")


def cmd_recommend(args: argparse.Namespace) -> int:
    """Run ``recommend fit`` (once, or every ``--every`` seconds until interrupted)."""
    from recsys.snapshots import fit_periodically, fit_snapshot
    from recsys.store import InteractionStore

    data_dir = resolve_data_dir(args.data_dir)
    store = (
        InteractionStore(args.database_url)
        if args.database_url
        else InteractionStore.in_data_dir(data_dir)
    )
    models = resolve_snapshot_dir(args.models, data_dir)
    options = dict(
        gpu=True if args.gpu else False if args.cpu else None,
        keep=args.keep,
        factors=args.factors,
        iterations=args.iterations,
        regularization=args.regularization,
        alpha=args.alpha,
    )
    if args.every:
        fit_periodically(store, models, args.every, **options)
        return 0
    snapshot = fit_snapshot(store, models, **options)
    summary = {**snapshot.info, "path": str(Path(models) / snapshot.name)}
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        print()
    else:
        print(
            f"saved {summary['path']}: {summary['users']:,} users x {summary['items']:,} items "
            f"({summary['nonzeros']:,} cells) fitted on the {summary['device'].upper()} in "
            f"{summary['fit_s']:.1f} s"
        )
    return 0
