"""What the command modules share: reading the file a command is given, and printing its result."""
import json

import click


def emit(as_json: bool, payload: dict, text: str) -> None:
    click.echo(json.dumps(payload, indent=2, default=str) if as_json else text)


def read_file(path: str) -> bytes:
    """The file's bytes, or one readable line naming why it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from exc
