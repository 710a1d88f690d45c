import pytest
from mqbench.milvus.overrides import (
    OverrideError,
    get_dotted,
    parse_override,
    parse_overrides,
    set_dotted,
)


def test_parse_typed_values():
    assert parse_override("natsmq.server.retention.maxAge=60") == ("natsmq.server.retention.maxAge", 60)
    assert parse_override("log.level=debug") == ("log.level", "debug")
    assert parse_override("proxy.http.enabled=false") == ("proxy.http.enabled", False)


@pytest.mark.parametrize("bad", ["mq.type", "=3", "nodots=1", "a..b=1", "a.b c=1", "1a.b=2"])
def test_bad_override_names_the_culprit(bad):
    with pytest.raises(OverrideError, match="a.b.c=value"):
        parse_override(bad)


def test_dict_overrides_need_dotted_keys():
    assert parse_overrides({"a.b": 1}) == {"a.b": 1}
    with pytest.raises(OverrideError, match="'plain'"):
        parse_overrides({"plain": 1})


def test_set_and_get_dotted_create_levels():
    tree = {"a": {"x": 1}}
    set_dotted(tree, "a.b.c", 5)
    assert tree == {"a": {"x": 1, "b": {"c": 5}}}
    assert get_dotted(tree, "a.b.c") == 5
    assert get_dotted(tree, "a.q", "missing") == "missing"
