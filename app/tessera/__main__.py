from tessera.launcher import main

main()
