import sys

from dojo.bench import main

sys.exit(main())
