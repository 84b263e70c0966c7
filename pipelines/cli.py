"""The `observatoire` command: run the pipeline, build the demo."""

from __future__ import annotations

import argparse
import re
import signal
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NoReturn

from pipelines.resources import DEFAULT_RAW_DIR
from pipelines.terminal import for_terminal

# argparse's own words (usage line, section titles, errors) are English: what the data
# officer reads of them, in French. Errors are matched on argparse's 3.11 wording.
_ERRORS = (
    (r"^the following arguments are required: (.*)$", r"arguments obligatoires manquants : \1"),
    (r"^unrecognized arguments: (.*)$", r"arguments inconnus : \1"),
    (
        r"^argument (.*?): invalid choice: (.*) \(choose from (.*)\)$",
        r"argument \1 : choix invalide : \2 (choisissez parmi \3)",
    ),
    (r"^argument (.*?): invalid int value: (.*)$", r"argument \1 : nombre entier attendu, reçu \2"),
    (r"^argument (.*?): expected one argument$", r"argument \1 : une valeur est attendue"),
    (
        r"^argument (.*?): ignored explicit argument (.*)$",
        r"argument \1 : valeur en trop ignorée : \2",
    ),
    (r"^ambiguous option: (.*) could match (.*)$", r"option ambiguë : \1 peut désigner \2"),
    (r"^argument (.*?): (.*)$", r"argument \1 : \2"),
)


class _Formatter(argparse.HelpFormatter):
    def add_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[argparse._MutuallyExclusiveGroup],
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, "utilisation : " if prefix is None else prefix)

    def start_section(self, heading: str | None) -> None:
        # argparse writes "heading:"; French puts a space before the colon
        super().start_section(f"{heading} " if heading else heading)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that speaks French: usage, section titles, -h, errors."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._positionals.title = "arguments"
        self._optionals.title = "options"
        self.add_argument(
            "-h",
            "--help",
            action="help",
            default=argparse.SUPPRESS,
            help="affiche cette aide et s'arrête",
        )

    def error(self, message: str) -> NoReturn:
        for english, french in _ERRORS:
            if re.match(english, message):
                message = re.sub(english, french, message)
                break
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog} : erreur : {message}\n")


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
        _say(
            "observatoire run : --new-key recharge toutes les années d'une structure ; "
            "retirez --year"
        )
        return 2
    summary = run_partitions(
        raw_dir=Path(args.raw),
        url=args.warehouse,
        structures=args.structure or None,
        years=args.year or None,
        run_date=args.run_date,
        instance=instance_for_run(ephemeral=args.no_history),
        progress=_say,
        new_key=args.new_key,
        remove=getattr(args, "remove", False),
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
    _say(
        f"Clé de pseudonymisation créée : {path} (lisible par vous seul).\n"
        "Gardez-en une copie en lieu sûr (coffre de mots de passe) : une clé perdue change "
        "tous les pseudonymes, et il faudrait recharger toutes les années.\n"
        "Les runs la trouvent d'eux-mêmes à cet endroit"
        + ("" if not args.file else f" si WAREHOUSE_PSEUDONYM_KEY_FILE={path} est défini")
        + " ; ne la mettez jamais dans raw/, warehouse/ ni dans git."
    )
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
            _say(
                "observatoire demo : la démo a besoin d'une copie du dépôt (git clone), qui "
                "contient son générateur (demo/) ; il n'est pas installé avec le paquet. "
                "Lancez `make demo` depuis cette copie."
            )
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
        written = generate(
            args.warehouse,
            args.structure,
            args.year,
            Path(args.out) if args.out else DEFAULT_REPORTS_DIR,
            args.min_cell_size,
            Path(args.raw),
        )
    except LookupError as exc:
        # the message may quote a name from the command line or the warehouse
        print(for_terminal(f"observatoire report : {exc}"), file=sys.stderr)
        return 1
    for path in written.files:
        print(for_terminal(str(path)))  # --out may hold any character a name can
    if args.min_cell_size:
        print(
            f"{written.masked_cells} case(s) masquée(s) : les effectifs inférieurs à "
            f"{args.min_cell_size} et les cases qui permettraient de les retrouver"
        )
    return 0


def _anomalies(args: argparse.Namespace) -> int:
    from pipelines.anomalies import DEFAULT_OUT_DIR, NotLoaded, generate

    try:
        path = generate(
            args.warehouse,
            args.structure,
            args.year,
            Path(args.output) if args.output else DEFAULT_OUT_DIR,
        )
    except NotLoaded as exc:
        print(for_terminal(f"observatoire anomalies : {exc}"), file=sys.stderr)
        return 1
    print(for_terminal(str(path)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="observatoire",
        description="Observatoire des Missions Locales : exports i-milo -> entrepôt d'indicateurs.",
        epilog="L'aide d'une commande : observatoire <commande> --help",
    )
    sub = parser.add_subparsers(
        dest="command", required=True, title="commandes", metavar="<commande>"
    )

    def command(
        name: str, text: str, target: argparse._SubParsersAction = sub
    ) -> argparse.ArgumentParser:
        return target.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")

    run = command("run", "matérialise chaque partition trouvée sous raw/ (ou celles nommées)")
    for p in (
        run,
        command(
            "demo", "crée le dépôt de démonstration synthétique (s'il n'existe pas) et l'exécute"
        ),
    ):
        p.add_argument(
            "--raw",
            default=str(DEFAULT_RAW_DIR),
            metavar="DOSSIER",
            help="le dépôt raw/<STRUCTURE>/<ANNÉE>/ (par défaut : %(default)s)",
        )
        p.add_argument(
            "--warehouse",
            default=None,
            metavar="URL",
            help="URL SQLAlchemy de l'entrepôt que lisent les analystes (par "
            "défaut : $WAREHOUSE_URL, sinon "
            "duckdb:///warehouse/observatoire.duckdb) ; pour un fichier DuckDB "
            "X/nom.duckdb, le pipeline travaille dans X/work/nom.duckdb et "
            "publie dans X/nom.duckdb",
        )
        p.add_argument(
            "--run-date",
            default=None,
            metavar="AAAA-MM-JJ",
            help="le jour du run, AAAA-MM-JJ (les dates postérieures sont "
            "invalides ; par défaut : aujourd'hui)",
        )
        p.add_argument(
            "--no-history",
            action="store_true",
            help="n'enregistre pas les runs dans l'historique de Dagster "
            "(.dagster_home) : plus rapide pour de gros lots (mesuré sur des "
            "partitions de 100 000 lignes : 3,5 à 4 s chacune contre 4,5 à 5 s)",
        )
    run.add_argument("--structure", action="append", help="seulement cette structure (répétable)")
    run.add_argument(
        "--year",
        action="append",
        type=int,
        metavar="ANNÉE",
        help="seulement cette année (répétable)",
    )
    run.add_argument(
        "--executor",
        choices=["in_process", "celery"],
        default="in_process",
        help="où s'exécutent les étapes : dans ce processus (par défaut), ou "
        "sur des workers Celery (scripts/celery-worker.sh ; l'instance "
        "Dagster et l'entrepôt dans PostgreSQL, docs/scaling.md)",
    )
    run.add_argument(
        "--remove",
        action="store_true",
        help="retire de l'entrepôt les partitions nommées dont le dossier a "
        "disparu (un run sans --structure ni --year le fait de lui-même)",
    )
    run.add_argument(
        "--new-key",
        action="store_true",
        help="recharge toutes les années des structures du run avec la clé de "
        "pseudonymisation actuelle (après un changement de clé ; "
        "docs/operations.md)",
    )
    key = command("key", "la clé de pseudonymisation")
    key_sub = key.add_subparsers(
        dest="key_command", required=True, title="commandes", metavar="<commande>"
    )
    create = command(
        "create",
        "crée une clé aléatoire, lisible par son seul propriétaire "
        "(ne remplace jamais une clé existante)",
        key_sub,
    )
    create.add_argument(
        "--file",
        default=None,
        metavar="FICHIER",
        help="où l'écrire (par défaut : ~/.config/observatoire/"
        "pseudonym.key, où chaque run la trouve ; un autre chemin demande "
        "$WAREHOUSE_PSEUDONYM_KEY_FILE)",
    )
    report = command(
        "report",
        "écrit le rapport d'activité annuel (Excel et HTML) depuis "
        "l'entrepôt ; sans --structure et avec plusieurs structures, le "
        "rapport régional",
    )
    report.add_argument(
        "--structure", help="la structure, ex. MNO (par défaut : toutes les structures)"
    )
    report.add_argument(
        "--year",
        type=int,
        metavar="ANNÉE",
        help="l'année (par défaut : la dernière qui a des chiffres)",
    )
    report.add_argument(
        "--out",
        default=None,
        metavar="DOSSIER",
        help="dossier où écrire les fichiers (par défaut : reports/ du projet)",
    )
    report.add_argument(
        "--warehouse",
        default=None,
        metavar="URL",
        help="URL SQLAlchemy de l'entrepôt que lisent les analystes (par "
        "défaut : $WAREHOUSE_URL, sinon "
        "duckdb:///warehouse/observatoire.duckdb)",
    )
    report.add_argument(
        "--min-cell-size",
        type=int,
        default=0,
        metavar="N",
        help="masque les effectifs inférieurs à N et les cases qui les "
        "révéleraient, dans le rapport à diffuser "
        "rapport-<S>-<A>-diffusion.* (le rapport interne n'est pas "
        "touché ; par défaut : 0, pas de masque)",
    )
    report.add_argument(
        "--raw",
        default=str(DEFAULT_RAW_DIR),
        metavar="DOSSIER",
        help="le dépôt dont les structure.yaml donnent le nom des structures "
        "dans les titres (par défaut : %(default)s)",
    )
    anomalies = command(
        "anomalies",
        "écrit anomalies-S-A.xlsx depuis l'entrepôt : les lignes rejetées et les "
        "avertissements à corriger dans i-milo, dossier par dossier (aucune donnée "
        "personnelle)",
    )
    anomalies.add_argument("--structure", required=True, help="la structure (ex. MNO)")
    anomalies.add_argument("--year", type=int, required=True, metavar="ANNÉE", help="l'année")
    anomalies.add_argument(
        "--output",
        "--out",
        default=None,
        metavar="DOSSIER",
        help="dossier où écrire le fichier (par défaut : reports/ du projet)",
    )
    anomalies.add_argument(
        "--warehouse",
        default=None,
        metavar="URL",
        help="URL SQLAlchemy de l'entrepôt que lisent les analystes (par "
        "défaut : $WAREHOUSE_URL, sinon "
        "duckdb:///warehouse/observatoire.duckdb)",
    )
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
