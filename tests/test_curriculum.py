"""The curriculum file: resolution of kata names, validation, and agreement with the tree."""

import pytest

from dojo import curriculum
from dojo.maintainers import checks
from dojo.curriculum import CurriculumError, UnknownKata


@pytest.fixture(scope="module")
def c():
    return curriculum.load()


@pytest.mark.parametrize("spelling", ["1", "01", "tensor", "01_tensor", " TENSOR "])
def test_kata_spellings(c, spelling):
    assert c.kata(spelling).id == "01"


@pytest.mark.parametrize("bad", ["99", "xyz", "", "1.5"])
def test_unknown_kata_lists_valid_ones(c, bad):
    with pytest.raises(UnknownKata, match="Valid katas: 01 \\(tensor\\)"):
        c.kata(bad)


def test_layout_agrees_with_the_curriculum(c):
    assert checks.layout_problems(c) == []


def test_every_requirement_points_backwards(c):
    order = [k.id for k in c.katas]
    for kata in c.katas:
        for req in kata.requires:
            assert order.index(req) < order.index(kata.id)


def test_each_file_has_one_owner(c):
    owned = [f for k in c.katas for f in k.owns]
    assert len(owned) == len(set(owned))


def test_bad_curriculum_files_are_clear_errors(tmp_path):
    bad = tmp_path / "curriculum.toml"
    bad.write_text('[[kata]]\nid = "01"\n')
    with pytest.raises(CurriculumError, match="lacks 'slug'"):
        curriculum.load(bad)
    bad.write_text('[[kata]]\nid = "01"\nslug = "a"\ntitle = "A"\nrequires = ["00"]\n')
    with pytest.raises(CurriculumError, match="requires unknown kata '00'"):
        curriculum.load(bad)
    bad.write_text("[[kata]\n")
    with pytest.raises(CurriculumError):
        curriculum.load(bad)
    with pytest.raises(CurriculumError, match="not found"):
        curriculum.load(tmp_path / "missing.toml")
