from precmed_utils.plotting import model_palette


def test_model_palette_is_stable_and_distinct():
    p = model_palette(["CRF", "LSTM", "GRU", "CRF"])
    assert list(p) == ["CRF", "LSTM", "GRU"]
    assert len(set(p.values())) == 3
    assert model_palette(["CRF", "LSTM", "GRU"]) == p  # same list, same colours, every call


def test_model_palette_follows_the_list_not_the_figure():
    full = model_palette(["a", "b", "c"])
    assert model_palette(["a", "b", "c"])["c"] == full["c"]
    assert model_palette(["c", "a"])["c"] != full["c"]  # a different list is a different palette
