from ocbridge.cli import main

main()
