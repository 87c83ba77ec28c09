import sys

if sys.argv[1:2] == ["kata"]:  # make kata: a warm server that is up answers before the command line is imported
    from dojo.student import warm_client

    code = warm_client.main(sys.argv[2:])
    if code is not None:
        sys.exit(code)

from dojo.cli import main

sys.exit(main())
