"""For the course's maintainers: ``make test`` (integrity, checks), the flake hunt, the loop benchmark.

May import anything in ``dojo``; nothing imports it except the command line.
"""
