"""The `observatoire` command: run the pipeline, build the demo."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from pipelines.resources import DEFAULT_RAW_DIR
from pipelines.terminal import for_terminal


def _say(text: str) -> None:
    """Progress and summaries quote file names and cells: never raw control characters."""
    print(for_terminal(text), flush=True)


def _stop_on_sigterm(_signo: int, _frame: object) -> None:
    # The nightly's supervisor stops with SIGTERM: end as Ctrl+C does (summary printed).
    raise KeyboardInterrupt


def _run(args: argparse.Namespace) -> int:
    from pipelines.runner import format_summary, instance_for_run, run_partitions

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    if args.new_key and args.year:
        _say("observatoire run : --new-key recharge toutes les années d'une structure ; "
             "retirez --year")
        return 2
    summary = run_partitions(
        raw_dir=Path(args.raw), url=args.warehouse, structures=args.structure or None,
        years=args.year or None, run_date=args.run_date,
        instance=instance_for_run(ephemeral=args.no_history),
        progress=_say, new_key=args.new_key, remove=getattr(args, "remove", False),
        executor=getattr(args, "executor", "in_process"),
    )
    _say(format_summary(summary))
    if summary.interrupted:
        return 130
    return 0 if summary.ok else 1


def _key(args: argparse.Namespace) -> int:
    from pipelines.pseudonym import PseudonymKeyError, create_key_file

    try:
        path = create_key_file(Path(args.file) if args.file else None)
    except PseudonymKeyError as exc:
        _say(f"observatoire key create : {exc}")
        return 1
    _say(f"Clé de pseudonymisation créée : {path} (lisible par vous seul).\n"
         "Gardez-en une copie en lieu sûr (coffre de mots de passe) : une clé perdue change "
         "tous les pseudonymes, et il faudrait recharger toutes les années.\n"
         "Les runs la trouvent d'eux-mêmes à cet endroit"
         + ("" if not args.file else
            f" si WAREHOUSE_PSEUDONYM_KEY_FILE={path} est défini")
         + " ; ne la mettez jamais dans raw/, warehouse/ ni dans git.")
    return 0


def _demo_writer() -> Callable[[Path], object] | None:
    """The demo generator of the checkout (demo/ beside pipelines/): it is not installed with
    the package. None when this installation has no checkout around it."""
    from pipelines.config import PROJECT_ROOT

    if not (PROJECT_ROOT / "demo" / "generate.py").is_file():
        return None
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    from demo.generate import write_demo

    return write_demo


def _demo(args: argparse.Namespace) -> int:
    raw = Path(args.raw)
    if not (raw / "MNO").exists():
        write_demo = _demo_writer()
        if write_demo is None:
            _say("observatoire demo : la démo a besoin d'une copie du dépôt (git clone), qui "
                 "contient son générateur (demo/) ; il n'est pas installé avec le paquet. "
                 "Lancez `make demo` depuis cette copie.")
            return 2
        _say(f"Création du dépôt de démonstration synthétique dans {raw}/MNO …")
        write_demo(raw)
    else:
        _say(f"Dépôt de démonstration existant utilisé : {raw}/MNO (supprimez-le pour le recréer).")
    args.structure, args.year, args.new_key = ["MNO"], None, False
    return _run(args)


def _report(args: argparse.Namespace) -> int:
    from pipelines.reporting.write import DEFAULT_REPORTS_DIR, generate
    from pipelines.terminal import for_terminal

    try:
        written = generate(args.warehouse, args.structure, args.year,
                           Path(args.out) if args.out else DEFAULT_REPORTS_DIR,
                           args.min_cell_size, Path(args.raw))
    except LookupError as exc:
        # the message may quote a name from the command line or the warehouse
        print(for_terminal(f"observatoire report: {exc}"), file=sys.stderr)
        return 1
    for path in written.files:
        print(for_terminal(str(path)))        # --out may hold any character a name can
    if args.min_cell_size:
        print(f"{written.masked_cells} cells masked (counts below {args.min_cell_size} and "
              f"the cells that would reveal them)")
    return 0


def _anomalies(args: argparse.Namespace) -> int:
    from pipelines.anomalies import DEFAULT_OUT_DIR, NotLoaded, generate

    try:
        path = generate(args.warehouse, args.structure, args.year,
                        Path(args.output) if args.output else DEFAULT_OUT_DIR)
    except NotLoaded as exc:
        print(for_terminal(f"observatoire anomalies : {exc}"), file=sys.stderr)
        return 1
    print(for_terminal(str(path)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="observatoire",
        description="Observatoire des Missions Locales : exports i-milo -> entrepôt d'indicateurs.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="matérialise chaque partition trouvée sous raw/ (ou "
                                     "celles nommées)")
    for p in (run, sub.add_parser("demo", help="crée le dépôt de démonstration synthétique "
                                                "(s'il n'existe pas) et l'exécute")):
        p.add_argument("--raw", default=str(DEFAULT_RAW_DIR),
                       help="le dépôt raw/<STRUCTURE>/<ANNÉE>/ (par défaut : %(default)s)")
        p.add_argument("--warehouse", default=None,
                       help="URL SQLAlchemy de l'entrepôt que lisent les analystes (par "
                            "défaut : $WAREHOUSE_URL, sinon "
                            "duckdb:///warehouse/observatoire.duckdb) ; pour un fichier DuckDB "
                            "X/nom.duckdb, le pipeline travaille dans X/work/nom.duckdb et "
                            "publie dans X/nom.duckdb")
        p.add_argument("--run-date", default=None,
                       help="le jour du run, AAAA-MM-JJ (les dates postérieures sont "
                            "invalides ; par défaut : aujourd'hui)")
        p.add_argument("--no-history", action="store_true",
                       help="n'enregistre pas les runs dans l'historique de Dagster "
                            "(.dagster_home) : plus rapide pour de gros lots (mesuré sur des "
                            "partitions de 100 000 lignes : 3,5 à 4 s chacune contre 4,5 à 5 s)")
    run.add_argument("--structure", action="append", help="seulement cette structure (répétable)")
    run.add_argument("--year", action="append", type=int, help="seulement cette année (répétable)")
    run.add_argument("--executor", choices=["in_process", "celery"], default="in_process",
                     help="où s'exécutent les étapes : dans ce processus (par défaut), ou "
                          "sur des workers Celery (scripts/celery-worker.sh ; l'instance "
                          "Dagster et l'entrepôt dans PostgreSQL, docs/scaling.md)")
    run.add_argument("--remove", action="store_true",
                     help="retire de l'entrepôt les partitions nommées dont le dossier a "
                          "disparu (un run sans --structure ni --year le fait de lui-même)")
    run.add_argument("--new-key", action="store_true",
                     help="recharge toutes les années des structures du run avec la clé de "
                          "pseudonymisation actuelle (après un changement de clé ; "
                          "docs/operations.md)")
    key = sub.add_parser("key", help="la clé de pseudonymisation")
    key_sub = key.add_subparsers(dest="key_command", required=True)
    create = key_sub.add_parser("create", help="crée une clé aléatoire, lisible par son seul "
                                               "propriétaire (ne remplace jamais une clé "
                                               "existante)")
    create.add_argument("--file", default=None,
                        help="où l'écrire (par défaut : ~/.config/observatoire/"
                             "pseudonym.key, où chaque run la trouve ; un autre chemin demande "
                             "$WAREHOUSE_PSEUDONYM_KEY_FILE)")
    report = sub.add_parser("report", help="write the annual report (Excel + HTML) from the "
                                           "warehouse; without --structure and with several "
                                           "structures, the regional report")
    report.add_argument("--structure", help="the structure (default: every structure)")
    report.add_argument("--year", type=int, help="the year (default: the latest with figures)")
    report.add_argument("--out", default=None,
                        help="output folder (default: reports/ in the project)")
    report.add_argument("--warehouse", default=None,
                        help="SQLAlchemy URL of the warehouse analysts read (default: "
                             "$WAREHOUSE_URL, else duckdb:///warehouse/observatoire.duckdb)")
    report.add_argument("--min-cell-size", type=int, default=0,
                        help="masque les effectifs inférieurs à N et les cases qui les "
                             "révéleraient, dans le rapport à diffuser "
                             "rapport-<S>-<A>-diffusion.* (le rapport interne n'est pas "
                             "touché ; par défaut : 0, pas de masque)")
    report.add_argument("--raw", default=str(DEFAULT_RAW_DIR),
                        help="le dépôt dont les structure.yaml donnent le nom des structures "
                             "dans les titres (par défaut : %(default)s)")
    anomalies = sub.add_parser(
        "anomalies", help="écrit anomalies-S-A.xlsx depuis l'entrepôt : les lignes rejetées "
                          "et les avertissements à corriger dans i-milo, dossier par dossier "
                          "(aucune donnée personnelle)")
    anomalies.add_argument("--structure", required=True, help="la structure (ex. MNO)")
    anomalies.add_argument("--year", type=int, required=True, help="l'année")
    anomalies.add_argument("--output", "--out", default=None,
                           help="dossier où écrire le fichier (par défaut : reports/ du "
                                "projet)")
    anomalies.add_argument("--warehouse", default=None,
                           help="URL SQLAlchemy de l'entrepôt que lisent les analystes (par "
                                "défaut : $WAREHOUSE_URL, sinon "
                                "duckdb:///warehouse/observatoire.duckdb)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "demo":
        return _demo(args)
    if args.command == "report":
        return _report(args)
    if args.command == "key":
        return _key(args)
    if args.command == "anomalies":
        return _anomalies(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
