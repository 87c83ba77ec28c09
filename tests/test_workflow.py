"""The fork-CI workflow and the Classroom recipe: what they must contain, and proof that the
`make test` lint (GitHub's workflow schema + zizmor offline) catches a broken or unsafe workflow."""

import re
import shutil

import pytest

from dojo import ROOT
from dojo.classroom import ci

KATAS = ROOT / ".github" / "workflows" / "katas.yml"
CLASSROOM = ROOT / "docs" / "classroom.yml"


def run_blocks(text: str) -> list:
    """The bodies of every `run:` step (block or inline)."""
    blocks, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^(\s*)(- )?run:\s*(.*)$", line)
        if not match:
            continue
        indent = len(match.group(1)) + (2 if match.group(2) else 0)
        if match.group(3) not in ("|", ">", "|-", ">-"):
            blocks.append(match.group(3))
            continue
        body = []
        for following in lines[i + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            body.append(following)
        blocks.append("\n".join(body))
    return blocks


@pytest.mark.parametrize("path", [KATAS, CLASSROOM], ids=["katas.yml", "classroom.yml"])
def test_no_expression_is_expanded_inside_a_shell_script(path):
    text = path.read_text(encoding="utf-8")
    blocks = run_blocks(text)
    assert blocks and all("${{" not in block for block in blocks)


@pytest.mark.parametrize("path", [KATAS, CLASSROOM], ids=["katas.yml", "classroom.yml"])
def test_third_party_actions_are_pinned_to_a_commit(path):
    uses = re.findall(r"uses:\s*(\S+)", path.read_text(encoding="utf-8"))
    assert uses
    for ref in uses:
        if ref.startswith("classroom-resources/"):  # Classroom's own reporter, by its tag (.github/zizmor.yml)
            continue
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref


def test_fork_ci_workflow_does_what_the_course_promises():
    text = KATAS.read_text(encoding="utf-8")
    assert re.search(r"^on:\n  push:\n  pull_request:\n", text, re.M)
    assert "permissions:\n  contents: read\n" in text
    assert "cache: pip" in text and "actions/setup-python@" in text
    assert "actions/upload-artifact@" in text and "path: ci-results/" in text
    own = text[text.index("make ci (this fork's own tests") :]
    assert own.splitlines()[1].strip() == "if: env.KATAS_UPSTREAM_REPO == ''" and "run: make ci OUT=ci-results" in own
    # upstream mode: the course's own Makefile, environment and `dojo ci --fork` (never the fork's build files)
    graded = text[text.index("make ci (the course's harness") :]
    assert graded.splitlines()[1].strip() == "if: env.KATAS_UPSTREAM_REPO != ''"
    assert 'run: make -C .upstream ci FORK="$GITHUB_WORKSPACE" OUT="$GITHUB_WORKSPACE/ci-results"' in graded
    upstream = text[text.index("Check out the upstream course") :]
    assert "repository: ${{ env.KATAS_UPSTREAM_REPO }}" in upstream and "ref: ${{ env.KATAS_UPSTREAM_REF }}" in upstream
    assert "KATAS_UPSTREAM_REPO: ${{ vars.KATAS_UPSTREAM_REPO }}" in text
    assert text.count("persist-credentials: false") == 2
    assert "KATAS_UPSTREAM_REF == ''" in text  # an unpinned upstream is refused


def test_classroom_recipe_feeds_the_reporter():
    text = CLASSROOM.read_text(encoding="utf-8")
    assert "make ci CLASSROOM=1" in text and "id: katas" in text
    assert 'make -C .upstream ci FORK="$GITHUB_WORKSPACE" CLASSROOM=1' in text  # the pinned template grades, when set
    assert "KATAS_UPSTREAM_REF == ''" in text and text.count("persist-credentials: false") == 2
    assert "KATAS_RESULTS: ${{ steps.katas.outputs.result }}" in text and "runners: katas" in text
    assert ci.RUNNER_ID == "katas"


def test_makefile_wires_the_verbs_and_installs_lint_tools_only_for_make_test():
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert '$(if $(FORK),--fork "$(FORK)")' in make  # `make -C .upstream ci FORK=...` (upstream mode)
    for target in ("ci", "present", "reveal", "board", "manifest"):
        assert re.search(rf"^{target}: \$\(STAMP\)", make, re.M), target
    assert re.search(r"^test: \$\(STAMP\) \$\(LINT_STAMP\)", make, re.M)
    assert re.search(r"^kata: \$\(STAMP\)\s", make, re.M)  # students never install the lint extra
    assert '-e ".[lint]"' in make


def lint_tools_present():
    return ci._tool("check-jsonschema") and ci._tool("zizmor")


@pytest.mark.skipif(not lint_tools_present(), reason="check-jsonschema/zizmor not installed (make test installs .[lint] and fails without them)")
def test_the_lint_passes_here_and_catches_injection_and_schema_errors(tmp_path):
    problems, note = ci.lint_workflows(ROOT)
    assert problems == [], problems
    assert "schema ok" in note
    root = tmp_path / "fork"
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / "docs").mkdir()
    shutil.copy2(ROOT / ".github" / "zizmor.yml", root / ".github" / "zizmor.yml")
    shutil.copy2(CLASSROOM, root / "docs" / "classroom.yml")
    unsafe = KATAS.read_text(encoding="utf-8").replace(
        "        run: make ci OUT=ci-results\n",
        '        run: |\n          echo "${{ github.event.head_commit.message }}"\n          make ci OUT=ci-results\n',
    )
    assert unsafe != KATAS.read_text(encoding="utf-8")
    (root / ".github" / "workflows" / "katas.yml").write_text(unsafe, encoding="utf-8")
    problems, _ = ci.lint_workflows(root)
    assert any("template-injection" in p for p in problems), problems
    broken = KATAS.read_text(encoding="utf-8").replace("    runs-on: ubuntu-latest\n", "    runs-on: ubuntu-latest\n    timeout-minute: 30\n")
    (root / ".github" / "workflows" / "katas.yml").write_text(broken, encoding="utf-8")
    problems, _ = ci.lint_workflows(root)
    assert any(p.startswith("GitHub workflow schema") for p in problems), problems
