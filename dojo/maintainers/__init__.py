"""For the course's maintainers: ``make test`` (integrity, checks), the flake hunt, the loop benchmark and where a run's time goes.

May import anything in ``dojo``; nothing imports it except the command line.
"""
