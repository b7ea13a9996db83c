"""Scene generator, captioned real images, tokenizer and model registration."""

from __future__ import annotations

import pytest
import torch

from cibr_lab.cibr.assets import load_asset
from cibr_lab.cibr.captioned import caption_labelled_images, concat_sets, to_rgb32
from cibr_lab.cibr.model import create_model, get_tokenizer
from cibr_lab.cibr.scenes import make_scenes
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
    corner = x[:, :, :3, :3].mean((1, 2, 3))
    assert (corner[f["mark"] == 1] == 1.0).all()
    left = (x[:, :, :, :16] - x[:, :, :, 16:].flip(-1)).abs().mean((1, 2, 3))
    assert left.gt(0).all()


@pytest.mark.parametrize("spurious, expected", [(1.0, 1.0), (0.0, 0.25)])
def test_spurious_split_ties_texture_and_style_to_the_class(spurious, expected):
    data = make_scenes(4000, seed=2, spurious=spurious)
    tex = (data.image_factors["texture"] == data.labels).float().mean()
    sty = (data.text_factors["style"] == data.labels[data.text_to_image]).float().mean()
    assert float(tex) == pytest.approx(expected, abs=0.03)
    assert float(sty) == pytest.approx(expected, abs=0.03)
    with pytest.raises(ValueError, match="spurious"):
        make_scenes(4, seed=0, spurious=1.5)


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
    assert ids.shape == (100, 24) and ids.max() < tok.vocab_size <= 256
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
