"""The dojo pytest plugin (minimal bootstrap; the full plugin replaces this)."""

from dojo import impl


def pytest_addoption(parser):
    group = parser.getgroup("dojo")
    group.addoption("--impl", default=None, help="implementation: student (default), solutions, or a folder holding tinytorch/")
    group.addoption("--no-gate", action="store_true", default=False)
    group.addoption("--dojo-progress", default=None)
    group.addoption("--dojo-quiet", action="store_true", default=False)


def pytest_configure(config):
    impl.activate(impl.resolve(config.getoption("impl")))
