"""grassroots demo [--households N] [--seed S] [--force | --if-empty]"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from grassroots.demo import DEFAULT_HOUSEHOLDS, DEFAULT_SEED, build_county
from grassroots.demo.cases import load_cases
from grassroots.demo.load import DemoError, existing_data, load_county, wipe

# Above this many users the list printed at the end is cut short (the file has them all).
PRINT_USERS = 40


class Command(BaseCommand):
    help = (
        "Load a demo county modelled on 尤溪县 (350426): towns, villages, grids, households, "
        "residents, enterprises and one user per role. Same N and seed, same data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--households",
            type=int,
            default=DEFAULT_HOUSEHOLDS,
            metavar="N",
            help=f"about how many households (default {DEFAULT_HOUSEHOLDS}; 300000 is a "
            "whole county: ~1,000 grids, ~1M residents)",
        )
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help=f"default {DEFAULT_SEED}"
        )
        parser.add_argument(
            "--cases",
            type=int,
            default=None,
            metavar="N",
            help="requests to report and take through the workflow (default: one per 10 "
            "households, at most 500)",
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--force",
            action="store_true",
            help="first delete all registry and territory data and the demo users",
        )
        mode.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing (and succeed) when the database already holds data",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        households, seed = options["households"], options["seed"]
        if households < 1:
            raise CommandError("--households must be at least 1")
        existing = existing_data()
        if existing:
            held = ", ".join(f"{n} {kind}" for kind, n in existing.items())
            if options["if_empty"]:
                self.stdout.write(f"The database already holds data ({held}); demo not loaded.")
                return
            if not options["force"]:
                raise CommandError(
                    f"The database is not empty ({held}). Use an empty database, or run "
                    "with --force to delete all registry and territory data and the demo "
                    "users first."
                )
            self.stdout.write(f"Deleting {held} ...")
            try:
                wipe()
            except DemoError as exc:
                raise CommandError(str(exc)) from None

        start = time.perf_counter()
        county = build_county(households=households, seed=seed)
        built = time.perf_counter() - start
        self.stdout.write(
            f"Generated {len(county.units)} units, {len(county.grids)} grids, "
            f"{len(county.household_rows)} households and {len(county.resident_rows)} "
            f"residents in {built:.1f} s; importing ..."
        )
        try:
            report = load_county(county)
        except DemoError as exc:
            raise CommandError(f"demo not loaded: {exc}") from None
        steps = ", ".join(f"{step} {sec:.1f} s" for step, sec in report.timings.items())
        self.stdout.write(f"Done in {time.perf_counter() - start:.1f} s (imports: {steps}).")
        self.stdout.write(
            "Database: " + ", ".join(f"{n} {kind}" for kind, n in report.counts.items())
        )
        cases = options["cases"] if options["cases"] is not None else min(500, households // 10)
        if cases < 0:
            raise CommandError("--cases cannot be negative")
        start = time.perf_counter()
        made = load_cases(cases, seed=seed)
        self.stdout.write(
            f"Reported {made} cases and took them through the workflow in "
            f"{time.perf_counter() - start:.1f} s."
        )
        defects = county.defects
        self.stdout.write(
            "Planted for `grassroots audit coverage`: "
            f"{len(defects.households_without_grid)} households without grid, "
            f"{len(defects.households_outside_grid)} outside their grid, "
            f"{len(defects.residents_without_household)} residents without household, "
            f"{len(defects.empty_households)} empty households, "
            f"{len(defects.duplicate_id_numbers)} duplicated ID numbers, "
            f"{len(defects.grids_without_worker)} grids without worker."
        )
        self._print_users(report)

    def _print_users(self, report: Any) -> None:
        users = report.users
        shown = users if len(users) <= PRINT_USERS else users[: PRINT_USERS - 5]
        width = max(len(u.username) for u in users)
        self.stdout.write("")
        self.stdout.write(f"{'username'.ljust(width)}  {'role'.ljust(18)}  {'password':14}  scope")
        for u in shown:
            self.stdout.write(
                f"{u.username.ljust(width)}  {u.role.ljust(18)}  {u.password:14}  {u.scope}"
            )
        if len(shown) < len(users):
            self.stdout.write(
                f"... and {len(users) - len(shown)} more grid workers (same password)."
            )
        self.stdout.write(f"All {len(users)} users with passwords: {report.users_file}")
