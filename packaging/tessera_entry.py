"""Entry point of the app build: the same ``tessera`` command the wheel installs."""

from tessera.launcher import main

main()
