from cdp_cli.cli.app import main

main()
