"""ISO 7816-4 command APDUs as a card sees them: short and extended encodings.

The virtual PIV card parses every byte string yubikit sends strictly, the way a
card's transport layer does, so a malformed APDU is answered with "wrong length"
instead of being guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass

SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_LAST_COMMAND_OF_CHAIN_EXPECTED = 0x6883
SW_SECURITY_STATUS_NOT_SATISFIED = 0x6982
SW_AUTH_METHOD_BLOCKED = 0x6983
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_INCORRECT_PARAMETERS = 0x6A80
SW_FILE_NOT_FOUND = 0x6A82
SW_NO_SPACE = 0x6A84
SW_REFERENCE_DATA_NOT_FOUND = 0x6A88
SW_WRONG_P1P2 = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00

CLA_CHAINING = 0x10
SHORT_RESPONSE_MAX = 256


@dataclass(frozen=True)
class Command:
    """One command APDU; ``ne`` is the expected response length (0 = none given)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    ne: int
    extended: bool

    @property
    def chained(self) -> bool:
        """More command data follows in the next APDU (ISO 7816-4 command chaining)."""
        return bool(self.cla & CLA_CHAINING)


def parse_command(apdu: bytes) -> Command:
    """Decode the four ISO cases in short or extended form; ``ValueError`` if malformed."""
    if len(apdu) < 4:
        raise ValueError("APDU shorter than its header")
    cla, ins, p1, p2 = apdu[:4]
    body = apdu[4:]
    if not body:  # case 1
        return Command(cla, ins, p1, p2, b"", 0, False)
    if len(body) == 1:  # case 2 short; Le 0 means 256
        return Command(cla, ins, p1, p2, b"", body[0] or 256, False)
    if body[0] != 0:  # case 3 or 4 short
        lc = body[0]
        if len(body) == 1 + lc:
            return Command(cla, ins, p1, p2, body[1:], 0, False)
        if len(body) == 2 + lc:
            return Command(cla, ins, p1, p2, body[1 : 1 + lc], body[-1] or 256, False)
        raise ValueError("short APDU length does not match Lc")
    # Extended form: a zero byte then two-byte lengths.
    if len(body) == 3:  # case 2 extended
        return Command(cla, ins, p1, p2, b"", int.from_bytes(body[1:3], "big") or 65536, True)
    if len(body) < 3:
        raise ValueError("truncated extended APDU")
    lc = int.from_bytes(body[1:3], "big")
    if lc == 0:
        raise ValueError("extended Lc of zero")
    rest = body[3:]
    if len(rest) == lc:
        return Command(cla, ins, p1, p2, rest, 0, True)
    if len(rest) == lc + 2:
        ne = int.from_bytes(rest[-2:], "big") or 65536
        return Command(cla, ins, p1, p2, rest[:lc], ne, True)
    raise ValueError("extended APDU length does not match Lc")
