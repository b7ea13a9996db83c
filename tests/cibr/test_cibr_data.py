"""Scene generator, captioned real images, tokenizer and model registration."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from scipy.stats import chi2_contingency

from cibr_lab.cibr.assets import load_asset
from cibr_lab.cibr.captioned import caption_labelled_images, concat_sets, text_nuisance, to_rgb32
from cibr_lab.cibr.evaluate import probe_factors
from cibr_lab.cibr.model import create_model, get_tokenizer
from cibr_lab.cibr.scenes import IMAGE_NUISANCE, SHARED, draw_factors, make_scenes, n_combinations
from cibr_lab.cibr.tokenizer import CaptionTokenizer

torch.set_num_threads(1)


def test_scenes_are_deterministic_and_seed_dependent():
    a, b = make_scenes(50, seed=4), make_scenes(50, seed=4)
    assert torch.equal(a.images, b.images) and a.captions == b.captions
    c = make_scenes(50, seed=5)
    assert not torch.equal(a.images, c.images)
    assert a.images.shape == (50, 3, 32, 32) and 0 <= a.images.min() and a.images.max() <= 1


def test_captions_name_the_shared_factors_and_nuisance():
    words = load_asset("scenes")
    data = make_scenes(200, seed=0, captions_per_image=3)
    assert len(data.captions) == 600 and torch.equal(
        data.text_to_image, torch.arange(200).repeat_interleave(3)
    )
    shapes = list(words["shape"].values())
    colours = list(words["colour"].values())
    for j, caption in enumerate(data.captions):
        i = int(data.text_to_image[j])
        syn = int(data.text_factors["synonym"][j])
        assert shapes[int(data.image_factors["shape"][i])][syn] in caption
        assert colours[int(data.image_factors["colour"][i])][syn] in caption
        assert caption.startswith(words["style"][int(data.text_factors["style"][j])])
    assert torch.equal(data.labels, data.image_factors["shape"])


def test_images_depend_on_their_factors():
    data = make_scenes(400, seed=1)
    f, x = data.image_factors, data.images
    red = x[:, 0].mean((1, 2)) - x[:, 2].mean((1, 2))
    assert red[f["colour"] == 0].mean() > red[f["colour"] == 2].mean() + 0.02
    corners = {0: x[:, :, :3, :3], 1: x[:, :, :3, -3:], 2: x[:, :, -3:, :3], 3: x[:, :, -3:, -3:]}
    for corner, pixels in corners.items():
        assert (pixels[f["mark"] == corner] == 1.0).all()
    dark = x[f["background"] == 0].mean()
    light = x[f["background"] == 1].mean()
    assert light > dark + 0.2


def test_shift_repaints_only_the_background():
    base, shifted = make_scenes(64, seed=3), make_scenes(64, seed=3, shift=True)
    assert base.captions == shifted.captions
    for k, v in base.image_factors.items():
        assert torch.equal(v, shifted.image_factors[k])
    changed = (base.images != shifted.images).float().mean((1, 2, 3))
    assert changed.gt(0.2).all()


def _chi2_p(a: torch.Tensor, b: torch.Tensor) -> float:
    table = torch.zeros(int(a.max()) + 1, int(b.max()) + 1)
    table.index_put_((a, b), torch.ones(len(a)), accumulate=True)
    return float(chi2_contingency(table.numpy())[1])


def test_nuisance_is_drawn_independently_of_the_shared_factors():
    gen = torch.Generator().manual_seed(0)
    factors = draw_factors(20_000, gen)
    for nuisance in IMAGE_NUISANCE:
        for shared in SHARED:
            assert _chi2_p(factors[nuisance], factors[shared]) > 1e-4, (nuisance, shared)
    text = text_nuisance(20_000, gen)
    for nuisance, codes in text.items():
        assert _chi2_p(codes, factors["shape"]) > 1e-4, nuisance
    # the check has power: a 10% coupling of texture to shape is found at once
    tied = torch.rand(20_000, generator=gen) < 0.1
    coupled = torch.where(tied, factors["shape"], factors["texture"])
    assert _chi2_p(coupled, factors["shape"]) < 1e-10


def test_every_test_caption_content_is_unique():
    n = n_combinations()
    assert n == 4 * 4 * 2 * 9
    data = make_scenes(n, seed=5)
    contents = set(zip(*(data.image_factors[k].tolist() for k in SHARED), strict=True))
    assert len(contents) == n
    twice = make_scenes(2 * n, seed=5)
    keys = list(zip(*(twice.image_factors[k].tolist() for k in SHARED), strict=True))
    assert set(Counter(keys).values()) == {2}


def test_probe_chance_is_the_majority_rate_of_each_factor():
    data = make_scenes(n_combinations(), seed=6)
    noise = torch.randn(len(data), 16, generator=torch.Generator().manual_seed(0))
    out = probe_factors(noise, data.image_factors, "p", seed=0)
    for name, values in data.image_factors.items():
        levels = int(values.max()) + 1
        assert out[f"p_{name}_chance"] == pytest.approx(1 / levels, abs=0.15)
        # an embedding that carries nothing stays near chance
        assert out[f"p_{name}"] < out[f"p_{name}_chance"] + 0.15
    colour = data.image_factors["colour"]
    onehot = torch.nn.functional.one_hot(colour, 4).float() + 0.01 * noise[:, :4]
    assert probe_factors(onehot, {"colour": colour}, "q", 0)["q_colour"] == 1.0


def test_captioned_digits_and_concat():
    images = torch.rand(6, 1, 28, 28)
    labels = torch.tensor([0, 7, 3, 3, 9, 1])
    digits = caption_labelled_images(
        "d", images, labels, [str(i) for i in range(10)], "digits", 0, 2
    )
    names = load_asset("captions")["digits"]["names"]
    for j, caption in enumerate(digits.captions):
        syn = int(digits.text_factors["synonym"][j])
        assert names[int(labels[digits.text_to_image[j]])][syn] in caption
    assert digits.images.shape == (6, 3, 32, 32)
    torch.testing.assert_close(digits.images[:, 0, 2:30, 2:30], images[:, 0])
    both = concat_sets("all", [make_scenes(4, seed=0), digits])
    assert len(both) == 10 and both.text_to_image.tolist() == [0, 1, 2, 3] + [
        4,
        4,
        5,
        5,
        6,
        6,
        7,
        7,
        8,
        8,
        9,
        9,
    ]
    with pytest.raises(KeyError, match="valid families: digits, animals"):
        caption_labelled_images("d", images, labels, list("0123456789"), "letters", 0)
    with pytest.raises(ValueError, match="grey images"):
        to_rgb32(torch.rand(2, 3, 28, 28))


def test_compact_tokenizer_maps_the_corpus_and_keeps_end_of_text_largest():
    tok = get_tokenizer("cibr-tiny")
    data = make_scenes(100, seed=0)
    ids = tok(data.captions)
    assert ids.shape == (100, 18) and ids.max() < tok.vocab_size <= 256
    eot = tok.vocab_size - 1
    assert (ids.argmax(1) == (ids > 0).sum(1) - 1).all()
    assert (ids.gather(1, ids.argmax(1, keepdim=True)) == eot).all()
    assert (ids != 2).all()  # no unknown token in generated captions
    assert tok(["a zebra xylophone"])[0, 3].item() == 2


def test_full_tokenizer_matches_open_clip_and_overflow_policy():
    import open_clip

    full = CaptionTokenizer(12)
    texts = ["a red disc.", "look at a big golden plus sign."]
    assert torch.equal(full(texts), open_clip.tokenize(texts, context_length=12))
    long = "a " * 20 + "circle."
    with pytest.raises(ValueError, match="exceed the context of 12 tokens"):
        full([long])
    truncating = CaptionTokenizer(12, on_overflow="truncate")
    with pytest.warns(UserWarning, match="truncated"):
        out = truncating([long])
    assert out[0, -1].item() == truncating.bpe.eot_token_id
    with pytest.raises(ValueError, match="on_overflow"):
        CaptionTokenizer(12, on_overflow="drop")


def test_tiny_model_is_registered_and_encodes():
    model = create_model("cibr-tiny")
    tok = get_tokenizer("cibr-tiny")
    out = model(torch.rand(3, 3, 32, 32), tok(["a red disc.", "a cat.", "a dog."]))
    assert out["image_features"].shape == out["text_features"].shape == (3, 64)
    torch.testing.assert_close(out["image_features"].norm(dim=1), torch.ones(3))
    with pytest.raises(KeyError, match="unknown model"):
        get_tokenizer("no-such-model")


def test_retrieval_runs_on_the_unique_head_and_zero_shot_on_the_whole_set():
    from cibr_lab.cibr.captioned import head
    from cibr_lab.cibr.evaluate import evaluate_suite

    torch.manual_seed(0)
    model, tokenizer = create_model("cibr-tiny").eval(), get_tokenizer("cibr-tiny")
    data = make_scenes(40, seed=3, captions_per_image=2, name="s")
    task = (("s", "scene_colour", "colour"),)
    whole = evaluate_suite(model, tokenizer, {"s": data}, task, ("s",), (), torch.device("cpu"))
    cut = evaluate_suite(
        model, tokenizer, {"s": data}, task, ("s",), (), torch.device("cpu"), retrieval_n=16
    )
    small = evaluate_suite(
        model, tokenizer, {"s": head(data, 16)}, task, ("s",), (), torch.device("cpu")
    )
    for key in cut:
        expected = small[key] if key.startswith(("ret_", "gap_")) else whole[key]
        assert cut[key] == pytest.approx(expected), key
    assert cut["ret_s_image_retrieval_recall@1"] != whole["ret_s_image_retrieval_recall@1"]


def test_retrieval_head_beyond_the_unique_contents_is_refused():
    from cibr_lab.cibr.suite import build_data
    from cibr_lab.errors import ConfigError
    from cibr_lab.runtime import get_profile

    cfg = get_profile("smoke").section("cibr")
    with pytest.raises(ConfigError, match="n_scenes_retrieval must be between 1 and 96"):
        build_data({**cfg, "n_scenes_retrieval": 97}, 0)
    with pytest.raises(ConfigError, match=f"and the {n_combinations()} distinct"):
        build_data({**cfg, "n_scenes_test": 400, "n_scenes_retrieval": 300}, 0)
