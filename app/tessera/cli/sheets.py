"""``tessera sheet …`` and ``tessera transcript``: recovery sheets on the command line.

Registered by :mod:`tessera.cli.main`; errors go through its one handler. The
per-invocation :class:`~tessera.cli.context.Context` arrives as the click object.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import click

from tessera.cli.context import Context, echo, warn
from tessera.core.errors import InputError, TesseraError
from tessera.core.memory import wipe
from tessera.sheets.model import Paper

PAPER = click.Choice([p.value for p in Paper])
PDF_WARNING = ("{path} holds {who}'s share in clear: print it, then shred the file "
               "(it must not stay on disk, in backups or in a print spooler).")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "record"


@click.group()
def sheet() -> None:
    """Print, seal, scan and verify sealed recovery sheets."""


@sheet.command("print")
@click.argument("record_ref")
@click.option("--custodian", "custodians", multiple=True,
              help="Only this custodian's sheet (repeat); default: every custodian.")
@click.option("--paper", type=PAPER, default="a4", show_default=True)
@click.option("--hand-copy", is_flag=True,
              help="Leave the words blank: the custodian copies them by hand.")
@click.option("--reprint-of", help="Serial of the lost or damaged sheet this replaces.")
@click.option("--reason", default="", help="Why (required with --reprint-of).")
@click.option("--out", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the PDF files (one per custodian).")
@click.pass_obj
def sheet_print(ctx: Context, record_ref: str, custodians: tuple[str, ...], paper: str,
                hand_copy: bool, reprint_of: str | None, reason: str, out_dir: Path) -> None:
    """Print custodians' sheets of a record; each custodian's token opens their share."""
    from tessera.core.private_file import private_folder
    from tessera.custody.release import custodian_slots
    from tessera.custody.sheets import sheet_with_token
    from tessera.sheets.render import write_pdf

    if reprint_of and len(custodians) != 1:
        raise InputError("--reprint-of replaces one sheet: name its --custodian")
    private_folder(out_dir)  # it will hold shares
    with ctx.vault() as vault:
        rec = vault.get_record(record_ref)
        data = vault.get_version(rec.id)
        manifest = data.manifest
        wanted = {vault.get_custodian(c).id for c in custodians}
        drivers = ctx.drivers(vault)
        for slot in custodian_slots(vault, data):
            if wanted and slot.custodian_id not in wanted:
                continue
            if not slot.tokens:
                warn(f"{slot.name} has no active token for this record; skipped")
                continue
            made = None
            for tok in slot.tokens:
                try:
                    made = sheet_with_token(vault, drivers, rec.id, tok.id, ctx.prompts,
                                            threading.Event(), actor=ctx.actor,
                                            hand_copy=hand_copy, reprint_of=reprint_of,
                                            reason=reason)
                    break
                except TesseraError as exc:
                    if tok is slot.tokens[-1]:
                        raise
                    warn(f"{tok.label}: {exc}")
            if made is None:
                raise InputError(f"{slot.name}'s sheet could not be made")
            path = out_dir / (f"{_slug(rec.label)}-v{manifest.version}-{_slug(slot.name)}-"
                              f"{made.serial}.pdf")
            pages = write_pdf([made], path, Paper(paper))
            echo(f"✓ {slot.name}: sheet {made.serial} → {path} ({pages} pages)")
            if not hand_copy:
                warn(PDF_WARNING.format(path=path, who=slot.name))
    echo("Seal each sheet in its envelope, then record it: "
         "tessera sheet seal SERIAL --envelope NO --sealed-by NAME --witness NAME")


@sheet.command("seal")
@click.argument("serial")
@click.option("--envelope", "envelope_no", required=True,
              help="Number printed on the tamper-evident bag.")
@click.option("--sealed-by", required=True, help="Who sealed it.")
@click.option("--witness", required=True, help="Who watched (another person).")
@click.pass_obj
def sheet_seal(ctx: Context, serial: str, envelope_no: str, sealed_by: str,
               witness: str) -> None:
    """Record that a sheet was sealed in a numbered tamper-evident envelope."""
    from tessera.vault.sheet_registry import SheetRegistry

    with ctx.vault() as vault:
        row = SheetRegistry(vault).mark_sealed(serial, envelope_no=envelope_no,
                                               sealed_by=sealed_by, witness=witness,
                                               actor=ctx.actor)
    echo(f"Sheet {row.serial} sealed in envelope {row.envelope_no} by {row.sealed_by}, "
         f"witnessed by {row.witness}.")


@sheet.command("destroy")
@click.argument("serial")
@click.option("--by", "destroyed_by", required=True, help="Who shredded it.")
@click.option("--witness", required=True, help="Who watched (another person).")
@click.pass_obj
def sheet_destroy(ctx: Context, serial: str, destroyed_by: str, witness: str) -> None:
    """Record that a sheet was destroyed (old epoch, misprint, after a release)."""
    from tessera.vault.sheet_registry import SheetRegistry

    with ctx.vault() as vault:
        row = SheetRegistry(vault).mark_destroyed(serial, destroyed_by=destroyed_by,
                                                  witness=witness, actor=ctx.actor)
    echo(f"Sheet {row.serial} recorded as destroyed by {row.destroyed_by}.")


@sheet.command("list")
@click.argument("record_ref", required=False)
@click.option("--all", "show_all", is_flag=True, help="Include destroyed sheets.")
@click.pass_obj
def sheet_list(ctx: Context, record_ref: str | None, show_all: bool) -> None:
    """List outstanding sheets (every one is a share on paper somewhere)."""
    from tessera.vault.sheet_registry import SheetRegistry

    with ctx.vault() as vault:
        registry = SheetRegistry(vault)
        record_id = vault.get_record(record_ref).id if record_ref else None
        rows = registry.sheets(record_id) if show_all else registry.outstanding(record_id)
        if not rows:
            echo("No sheets outstanding." if not show_all else "No sheets printed.")
        for row in rows:
            who = vault.get_custodian(row.custodian_id).name
            extra = f" reprint of {row.reprint_of}" if row.reprint_of else ""
            extra += "  confirmed" if row.confirmed else "  NOT CONFIRMED"
            echo(f"{row.serial}  v{row.version} {row.share_key:<5} {who:<16} "
                 f"{row.state.value:<9} envelope {row.envelope_no or '—'}{extra}")


@sheet.command("scan")
@click.argument("images", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dpi", type=click.IntRange(100, 1200), default=300, show_default=True,
              help="Resolution for rasterising PDF pages.")
@click.option("--recover-to", type=click.Path(dir_okay=False, path_type=Path),
              help="Recover the secret from the scanned sheets alone (no vault) into "
                   "this file (mode 0600).")
@click.option("--codes-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the decoded codes, one per line, for tools/tessera-recover "
                   "(mode 0600; holds share words if share codes were scanned).")
def sheet_scan(images: tuple[Path, ...], dpi: int, recover_to: Path | None,
               codes_out: Path | None) -> None:
    """Read sheets' QR codes from scans, photos or PDFs (any order, several per image)."""
    from tessera.core.private_file import write_private
    from tessera.sheets.collect import recover_secret
    from tessera.sheets.scan import read_scans, scan_file

    scans = [scan for image in images for scan in scan_file(image, dpi)]
    reader = read_scans(scans, strict=False)
    for scan in scans:
        echo(f"{scan.source}: {len(scan.texts)} code(s)"
             + (f", {scan.damaged} unreadable" if scan.damaged else ""))
    for note in reader.notes:
        warn(note)
    have, total = reader.chunk_progress
    if reader.expected is not None:
        echo(f"Sheets of {reader.expected.describe()}")
    echo(f"Shares read: {', '.join(sorted(reader.shares)) or 'none'}")
    echo(f"Recovery data: {have} of {total} chunks" if total else "Recovery data: none read")
    missing = reader.missing_chunks()
    if missing:
        warn(f"missing chunk(s) {', '.join(map(str, missing))} of {total}")
    if codes_out:
        texts = [t for s in scans for t in s.texts]
        write_private(codes_out, ("\n".join(texts) + "\n").encode("utf-8"))
        echo(f"Wrote {len(texts)} codes to {codes_out}")
        if reader.shares:
            warn(f"{codes_out} holds share words: shred it once used.")
    if recover_to:
        data = reader.recovery_data()
        echo(f"Fingerprint {data.manifest.fingerprint} — compare it with the sheets.")
        recovered = recover_secret(reader, data)
        try:
            write_private(recover_to, bytes(recovered.secret))
        finally:
            wipe(recovered.secret)
        echo(f"Recovered {data.manifest.label} from {len(recovered.contributions)} sheets "
             f"({', '.join(c.custodian for c in recovered.contributions)}).")
        warn(f"the secret is in {recover_to}: delete it (shred) once it has been used.")


@sheet.command("confirm")
@click.argument("record_ref")
@click.option("--custodian", "custodian_name", required=True, help="Whose sheet.")
@click.pass_obj
def sheet_confirm(ctx: Context, record_ref: str, custodian_name: str) -> None:
    """The custodian confirms their new sheet: its 33 words are checked against the record.

    A version's paper backups count once each custodian has confirmed theirs (or their
    envelope is recorded as sealed before a witness).
    """
    from tessera.cli.prompts import read_line
    from tessera.core.errors import UserCancelled
    from tessera.custody.sheet_backup import backup_status, confirm_sheet_checked

    typed = read_line(f"{custodian_name}, type the 33 words of your sheet: ", secret=True)
    if typed is None:
        raise UserCancelled()
    with ctx.vault() as vault:
        row = confirm_sheet_checked(vault, record_ref, custodian_name, typed, actor=ctx.actor)
        status = backup_status(vault, row.record_id)
    echo(f"✓ Sheet {row.serial} confirmed: it holds {custodian_name}'s share. "
         f"{status.describe()[:1].upper()}{status.describe()[1:]}.")


@sheet.command("verify")
@click.argument("images", nargs=-1,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--words", is_flag=True, help="Type the words instead of scanning.")
@click.option("--record", "record_ref", help="The record (with --words).")
@click.option("--custodian", "custodian_name", help="Whose sheet (with --words).")
@click.option("--dpi", type=click.IntRange(100, 1200), default=300, show_default=True)
@click.pass_obj
def sheet_verify(ctx: Context, images: tuple[Path, ...], words: bool, record_ref: str | None,
                 custodian_name: str | None, dpi: int) -> None:
    """Check a sheet against its record's commitment, reconstructing nothing."""
    from tessera.cli.prompts import read_line
    from tessera.core.errors import UserCancelled
    from tessera.custody.sheets import verify_codes, verify_words
    from tessera.sheets.scan import scan_file

    if words == bool(images):
        raise InputError("give sheet images to scan, or --words (with --record and "
                         "--custodian)")
    with ctx.vault() as vault:
        if words:
            if not (record_ref and custodian_name):
                raise InputError("--words needs --record and --custodian")
            typed = read_line(f"{custodian_name}, type the 33 words of your sheet: ",
                              secret=True)
            if typed is None:
                raise UserCancelled()
            checks = [verify_words(vault, record_ref, custodian_name, typed)]
        else:
            pairs = [(scan.source, text) for image in images for scan in scan_file(image, dpi)
                     for text in scan.texts]
            checks = verify_codes(vault, pairs)
    for check in checks:
        echo(f"✓ {check.describe()}")


@click.command("transcript")
@click.argument("ref")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="PDF file to write.")
@click.option("--paper", type=PAPER, default="a4", show_default=True)
@click.pass_obj
def transcript(ctx: Context, ref: str, out: Path, paper: str) -> None:
    """Print the ceremony transcript of a RELEASE (id) or a RECORD, with the audit head."""
    from tessera.custody.sheets import transcript_for
    from tessera.sheets.render import write_transcript_pdf

    with ctx.vault() as vault:
        data = transcript_for(vault, ref, actor=ctx.actor)
    pages = write_transcript_pdf(data, out, Paper(paper))
    echo(f"Wrote {out} ({pages} page{'s' if pages != 1 else ''}); audit head "
         f"{data.audit_seq}:{data.audit_hash}")
