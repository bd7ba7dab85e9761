"""The generic Registry every op, pass, converter, lowering and target table is built on."""

import pytest

from mlc.registry import Registry


def test_entries_keep_registration_order_and_refuse_a_second_entry():
    reg: Registry[int] = Registry("widget")
    one, two = object(), object()
    reg.add("b", one)
    reg.add("a", two)
    assert reg.names() == ["b", "a"]
    assert reg.get("b") is one and reg.get("missing") is None
    reg.add("b", one)  # the same entry again: a re-import, harmless
    with pytest.raises(ValueError, match="widget b registered twice"):
        reg.add("b", object())
    reg.remove("b")
    assert "b" not in reg and len(reg) == 1


def test_built_ins_load_once_before_the_first_read_or_add_and_come_first():
    calls = []
    reg: Registry[str] = Registry("thing", load=lambda: (calls.append(1), reg.add("x", "X")))
    assert calls == []
    reg.add("y", "Y")  # a plugin's entry: the built-ins load first and keep their place
    assert calls == [1]
    assert reg.items() == [("x", "X"), ("y", "Y")]
    assert list(reg) == ["x", "y"] and calls == [1]
    with pytest.raises(ValueError, match="thing x registered twice"):
        reg.add("x", "another X")


def test_register_adds_a_function_under_each_name_and_getitem_reads_it():
    reg: Registry = Registry("lowering")

    @reg.register("add", "sub")
    def binary():
        pass

    assert binary.__name__ == "binary" and reg["add"] is binary and reg["sub"] is binary
    with pytest.raises(KeyError):
        reg["mul"]
