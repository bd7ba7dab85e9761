"""Pipeline strings, the -O levels, the errors a user sees for a bad pipeline, and pass plugins.

Uses passes defined here (``tp-*``); the levels are checked against whatever is registered.
"""

from __future__ import annotations

import textwrap

import pytest

from mlc.ir import Graph
from mlc.passes import PIPELINES, Pass, PassError, all_passes, parse_pipeline, pipeline_string, \
    register_pass
from mlc.passes.plugins import load_pass_plugin, plugin_passes


@register_pass("tp-knobs")
class Knobs(Pass):
    """A pass with one option of each kind."""

    max_group: int = 8
    scale: float = 0.5
    enabled: bool = True
    mode: str = "fast"

    def run(self, graph: Graph) -> bool:
        return False


@register_pass("tp-plain")
class Plain(Pass):
    """A pass without options."""

    def run(self, graph: Graph) -> bool:
        return False


def test_parses_names_and_typed_options():
    first, second, third = parse_pipeline("tp-plain, tp-knobs{max-group=3, scale=0.25, "
                                          "enabled=false, mode=slow} ,tp-knobs")
    assert isinstance(first, Plain)
    assert (second.max_group, second.scale, second.enabled, second.mode) == (3, 0.25, False, "slow")
    assert (third.max_group, third.enabled) == (8, True)


def test_underscored_option_names_are_accepted_too():
    knobs, = parse_pipeline("tp-knobs{max_group=2}")
    assert knobs.max_group == 2


def test_spec_writes_only_non_default_options_and_round_trips():
    passes = parse_pipeline("tp-knobs{max-group=3,enabled=no},tp-plain,tp-knobs{mode=fast}")
    text = pipeline_string(passes)
    assert text == "tp-knobs{max-group=3,enabled=false},tp-plain,tp-knobs"
    assert pipeline_string(parse_pipeline(text)) == text


def test_the_levels_are_named_in_one_place():
    assert list(PIPELINES) == ["O0", "O1", "O2"]
    assert parse_pipeline("O0") == [] and parse_pipeline("-O0") == []
    assert parse_pipeline("") == []


@pytest.mark.parametrize("level", ["O1", "O2"])
def test_a_level_is_its_pipeline_string(level):
    expected = PIPELINES[level]
    assert pipeline_string(parse_pipeline(level)) == expected
    assert pipeline_string(parse_pipeline("-" + level)) == expected


def test_unknown_pass_lists_the_known_ones():
    with pytest.raises(PassError) as info:
        parse_pipeline("tp-plain,tp-nosuch")
    line = info.value.one_line()
    assert "unknown pass 'tp-nosuch'" in line
    assert "known passes:" in line
    for name in ("tp-knobs", "tp-plain", *all_passes()):
        assert name in line


def test_unknown_option_names_the_pass_and_its_options():
    with pytest.raises(PassError) as info:
        parse_pipeline("tp-knobs{max-groups=3}")
    line = info.value.one_line()
    assert "pass tp-knobs has no option 'max-groups'" in line
    for option in ("max-group (default 8)", "scale (default 0.5)", "enabled (default true)",
                   "mode (default fast)"):
        assert option in line


def test_an_option_of_a_pass_without_options_says_none():
    with pytest.raises(PassError, match="has no option 'x'") as info:
        parse_pipeline("tp-plain{x=1}")
    assert "its options: none" in info.value.one_line()


@pytest.mark.parametrize("text, expected", [
    ("tp-knobs{max-group=many}", "option max-group of pass tp-knobs takes int values, not 'many'"),
    ("tp-knobs{scale=big}", "option scale of pass tp-knobs takes float values, not 'big'"),
    ("tp-knobs{enabled=maybe}", "option enabled of pass tp-knobs takes bool values, not 'maybe'"),
    ("tp-knobs{max-group}", "option 'max-group' of pass tp-knobs needs a value"),
    ("tp-plain;tp-knobs", "cannot parse pipeline"),
    ("tp-knobs{mode=a", "cannot parse pipeline"),
])
def test_bad_values_and_syntax_are_one_clear_line(text, expected):
    with pytest.raises(PassError) as info:
        parse_pipeline(text)
    assert expected in info.value.one_line()
    assert "\n" not in info.value.one_line()


# -- plugins ---------------------------------------------------------------------------------------

PLUGIN = '''
from mlc.passes import Pass, register_pass


@register_pass("{name}")
class Drop(Pass):
    """Remove relu nodes (a plugin pass)."""
    keep_last: bool = False

    def run(self, graph) -> bool:
        changed = False
        for node in [n for n in graph.nodes if n.op == "relu"]:
            if node.output.is_graph_output and self.keep_last:
                continue
            node.output.replace_all_uses_with(node.inputs[0])
            graph.remove_node(node)
            changed = True
        return changed
'''


def write(folder, name: str, text: str):
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_plugin_registers_its_passes(tmp_path):
    path = write(tmp_path, "drop_relu.py", PLUGIN.replace("{name}", "tp-plugin-drop"))
    module = load_pass_plugin(path)
    assert plugin_passes(module) == ["tp-plugin-drop"]
    drop, = parse_pipeline("tp-plugin-drop{keep-last=true}")
    assert drop.keep_last is True and drop.summary() == "Remove relu nodes (a plugin pass)."
    assert not module.__name__.startswith("mlc.passes")  # not counted as a built-in pass
    assert load_pass_plugin(path) is module  # loading the same file again is a no-op


def test_an_edited_plugin_replaces_its_earlier_passes(tmp_path):
    path = write(tmp_path, "edit.py", PLUGIN.replace("{name}", "tp-plugin-edit"))
    load_pass_plugin(path)
    path.write_text(path.read_text().replace("a plugin pass", "edited"))
    module = load_pass_plugin(path)
    assert parse_pipeline("tp-plugin-edit")[0].summary() == "Remove relu nodes (edited)."
    assert plugin_passes(module) == ["tp-plugin-edit"]


def test_two_plugins_with_the_same_file_name_do_not_collide(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = load_pass_plugin(write(tmp_path / "a", "passes.py", PLUGIN.replace("{name}", "tp-a")))
    second = load_pass_plugin(write(tmp_path / "b", "passes.py", PLUGIN.replace("{name}", "tp-b")))
    assert first is not second and first.__name__ != second.__name__
    assert {"tp-a", "tp-b"} <= set(all_passes())


def test_a_missing_plugin_is_named(tmp_path):
    with pytest.raises(PassError, match=r"pass plugin .*nope\.py does not exist"):
        load_pass_plugin(tmp_path / "nope.py")
    with pytest.raises(PassError, match="is a folder"):
        load_pass_plugin(tmp_path)


def test_a_syntax_error_gives_file_and_line(tmp_path):
    path = write(tmp_path, "broken.py", "from mlc.passes import Pass\n\ndef run(:\n    pass\n")
    with pytest.raises(PassError) as info:
        load_pass_plugin(path)
    line = info.value.one_line()
    assert "broken.py has a syntax error at line 3" in line


def test_an_exception_while_importing_gives_file_line_and_reason(tmp_path):
    path = write(tmp_path, "raises.py", "import os\n\nvalue = 1\nundefined_name + value\n")
    with pytest.raises(PassError) as info:
        load_pass_plugin(path)
    line = info.value.one_line()
    assert "raises.py failed while loading at line 4: NameError" in line
    assert "undefined_name" in line


def test_a_plugin_may_not_take_a_built_in_name(tmp_path):
    built_in = next(n for n, c in all_passes().items() if c.__module__.startswith("mlc.passes."))
    path = write(tmp_path, "shadow.py", PLUGIN.replace("{name}", built_in))
    with pytest.raises(PassError, match=f"pass {built_in} registered twice"):
        load_pass_plugin(path)
    assert all_passes()[built_in].__module__.startswith("mlc.passes.")


def test_a_failed_plugin_leaves_no_pass_behind(tmp_path):
    source = PLUGIN.replace("{name}", "tp-half") + "\nraise RuntimeError('late failure')\n"
    with pytest.raises(PassError, match="RuntimeError: late failure"):
        load_pass_plugin(write(tmp_path, "half.py", source))
    assert "tp-half" not in all_passes()


def test_a_subclass_of_an_option_carrying_pass_adds_its_own_options():
    # register_pass makes each registered class a dataclass itself, not only its base
    @register_pass("tp-knobs-plus")
    class KnobsPlus(Knobs):
        """Knobs and one more."""

        extra: int = 1

    plus, = parse_pipeline("tp-knobs-plus{extra=4,max-group=2}")
    assert (plus.extra, plus.max_group) == (4, 2)
    assert plus.spec() == "tp-knobs-plus{max-group=2,extra=4}"
