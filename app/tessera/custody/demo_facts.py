"""What a demo vault's user is told (the PIN of its virtual keys), kept apart from
``tessera.custody.demo`` so a window can say it without loading the virtual devices."""

from __future__ import annotations

DEMO_PIN = "314159"  # every virtual key in the demo gets this PIN (FIDO2 and PIV both accept it)
