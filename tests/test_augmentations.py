"""Random augmentations (RandomCrop, RandomHorizontalFlip) and Normalize: each checked against its
definition image by image, and their draws in a pipeline against the dataset seed and the epoch."""
import numpy as np
import pytest

from runtime.dataset import (HWC2CHW, FashionMnist, Normalize, NumpySlicesDataset, RandomCrop, RandomHorizontalFlip,
                             get_seed, set_seed)


@pytest.fixture(autouse=True)
def restore_dataset_seed():
    seed = get_seed()
    yield
    set_seed(seed)


def distinct_images(n=6, height=5, width=7, channels=2):
    """Every pixel value distinct and non-zero, so a crop's position can be read off its content."""
    values = np.arange(1, n * height * width * channels + 1, dtype=np.int32)
    return values.reshape(n, height, width, channels)


def crop_positions(padded, crops):
    """For each crop, every (top, left) of `padded` whose window equals it."""
    height, width = crops.shape[1:3]
    positions = []
    for image, crop in zip(padded, crops):
        positions.append([(top, left) for top in range(image.shape[0] - height + 1)
                          for left in range(image.shape[1] - width + 1)
                          if np.array_equal(image[top:top + height, left:left + width], crop)])
    return positions


@pytest.mark.parametrize("padding, widths", [
    (2, ((2, 2), (2, 2))),
    ((1, 3), ((3, 3), (1, 1))),             # (left and right, top and bottom)
    ((1, 2, 3, 4), ((2, 4), (1, 3))),       # (left, top, right, bottom)
])
def test_random_crop_is_a_window_of_the_padded_image(padding, widths):
    images = distinct_images()
    crops = RandomCrop((5, 7), padding=padding, fill_value=-1)(images, rng=np.random.default_rng(0))
    assert crops.shape == images.shape and crops.dtype == images.dtype
    padded = np.pad(images, ((0, 0), *widths, (0, 0)), constant_values=-1)
    assert all(len(found) == 1 for found in crop_positions(padded, crops))


def test_random_crop_draws_every_position_uniformly():
    images = np.broadcast_to(distinct_images(1, 4, 4, 1), (4000, 4, 4, 1))
    crops = RandomCrop(4, padding=1)(images, rng=np.random.default_rng(1))
    padded = np.pad(images[:1], ((0, 0), (1, 1), (1, 1), (0, 0)))
    windows = {padded[0, t:t + 4, l:l + 4].tobytes(): (t, l) for t in range(3) for l in range(3)}
    counts = np.zeros((3, 3))
    for crop in crops:
        counts[windows[crop.tobytes()]] += 1
    expected, sd = 4000 / 9, np.sqrt(4000 * (1 / 9) * (8 / 9))
    assert np.all(np.abs(counts - expected) < 5 * sd), counts


def test_random_crop_padding_modes_fill_values_and_pad_if_needed():
    images = distinct_images(3, 4, 4, 3).astype(np.uint8)
    rng = np.random.default_rng(2)
    for mode in ("edge", "reflect", "symmetric"):
        crops = RandomCrop(4, padding=2, padding_mode=mode)(images, rng=rng)
        padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode=mode)
        assert all(crop_positions(padded, crops))
    per_channel = RandomCrop(8, padding=2, fill_value=(7, 8, 9))(images, rng=rng)   # the whole padded image
    np.testing.assert_array_equal(per_channel[:, 0, 0], [[7, 8, 9]] * 3)
    np.testing.assert_array_equal(per_channel[:, 2:6, 2:6], images)
    grown = RandomCrop((6, 5), pad_if_needed=True)(images, rng=rng)
    assert grown.shape == (3, 6, 5, 3)
    with pytest.raises(ValueError, match=r"crop size \(6, 6\) is larger than the padded image \(5, 5\).*"
                                         r"pad_if_needed=True"):
        RandomCrop(6, padding=(0, 0, 1, 1))(images, rng=rng)
    with pytest.raises(ValueError, match="padding must be"):
        RandomCrop(4, padding=(1, 2, 3))
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        RandomCrop(4, padding_mode="wrap")


def test_random_horizontal_flip():
    images = distinct_images(2000, 3, 4, 1)
    flipped = RandomHorizontalFlip(0.5)(images, rng=np.random.default_rng(3))
    mirrored = np.array([np.array_equal(out, image[:, ::-1]) for out, image in zip(flipped, images)])
    unchanged = np.array([np.array_equal(out, image) for out, image in zip(flipped, images)])
    assert np.all(mirrored ^ unchanged)
    assert abs(mirrored.sum() - 1000) < 5 * np.sqrt(2000 * 0.25)
    np.testing.assert_array_equal(RandomHorizontalFlip(0.0)(images), images)
    np.testing.assert_array_equal(RandomHorizontalFlip(1.0)(images), images[:, :, ::-1])
    with pytest.raises(ValueError, match=r"prob must be in \[0, 1\], got 1.5"):
        RandomHorizontalFlip(1.5)


def test_normalize_per_channel_in_both_layouts():
    images = np.random.default_rng(4).integers(0, 256, (2, 3, 4, 3)).astype(np.uint8)
    mean, std = [10.0, 20.0, 30.0], [2.0, 4.0, 8.0]
    out = Normalize(mean, std)(images)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, (images - np.array(mean)) / np.array(std), rtol=1e-6)
    chw = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(Normalize(mean, std, is_hwc=False)(chw), out.transpose(0, 3, 1, 2), rtol=1e-6)
    with pytest.raises(ValueError, match=r"3 means and stds for an image of shape \(3, 3, 4\)"):
        Normalize(mean, std)(images.transpose(0, 1, 3, 2))
    with pytest.raises(ValueError, match="every std must be > 0"):
        Normalize([0.0], [0.0])


def test_standalone_draws_follow_the_dataset_seed():
    images = distinct_images()
    set_seed(5)
    first = [RandomCrop(5, padding=2)(images) for _ in range(2)]
    set_seed(5)
    crop = RandomCrop(5, padding=2)
    again = [crop(images), crop(images)]
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(again[0], again[1])   # one generator per transform, advancing


def augmented_epochs(seed, epochs, start_epoch=0):
    set_seed(seed)
    images = distinct_images(64, 4, 4, 1)
    dataset = NumpySlicesDataset({"image": images, "label": np.arange(64, dtype=np.int32)}, shuffle=True)
    dataset = dataset.map([RandomCrop(4, padding=1), RandomHorizontalFlip()], input_columns="image").batch(16)
    dataset.set_epoch(start_epoch)
    iterator = dataset.create_tuple_iterator(num_epochs=epochs, output_numpy=True)
    return [[(x.copy(), y.copy()) for x, y in iterator] for _ in range(epochs)]


def test_pipeline_draws_depend_only_on_the_seed_and_the_epoch():
    run = augmented_epochs(seed=7, epochs=2)
    same = augmented_epochs(seed=7, epochs=2)
    resumed = augmented_epochs(seed=7, epochs=1, start_epoch=1)
    other_seed = augmented_epochs(seed=8, epochs=1)

    def equal(a, b):
        return all(np.array_equal(xa, xb) and np.array_equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b))
    assert equal(run[0], same[0]) and equal(run[1], same[1])
    assert equal(run[1], resumed[0])
    assert not equal(run[0], run[1]) and not equal(run[0], other_seed[0])
    # each epoch's draws are new even for the same row: compare row 0's image in both epochs
    row0 = [next(x[list(y).index(0)] for x, y in epoch if 0 in y) for epoch in run]
    images = distinct_images(64, 4, 4, 1)
    for image in row0:
        padded = np.pad(images[0], ((1, 1), (1, 1), (0, 0)))
        assert any(np.array_equal(image, window) or np.array_equal(image, window[:, ::-1])
                   for window in (padded[t:t + 4, l:l + 4] for t in range(3) for l in range(3)))


def test_fashion_mnist_with_augmentations(fashion_mnist_dir):
    set_seed(0)
    mean, std = FashionMnist.MEAN * 255, FashionMnist.STD * 255
    plain = FashionMnist(fashion_mnist_dir, split="test", batch_size=50, shuffle=False,
                         transform=[Normalize([mean], [std]), HWC2CHW()]).run()
    augmented = FashionMnist(fashion_mnist_dir, split="test", batch_size=50, shuffle=False,
                             transform=[RandomCrop(28, padding=4), RandomHorizontalFlip(), Normalize([mean], [std]),
                                        HWC2CHW()]).run()
    (x, y), = [next(iter(plain.create_tuple_iterator(output_numpy=True)))]
    (xa, ya), = [next(iter(augmented.create_tuple_iterator(output_numpy=True)))]
    assert xa.shape == x.shape == (50, 1, 28, 28) and xa.dtype == np.float32
    np.testing.assert_array_equal(ya, y)
    background = (0 - mean) / std       # what the zero padding becomes after Normalize
    padded = np.pad(x[:, 0], ((0, 0), (4, 4), (4, 4)), constant_values=background)
    shifted = 0
    for image, crop in zip(padded, xa[:, 0]):
        matches = [(t, l) for t in range(9) for l in range(9)
                   if np.allclose(image[t:t + 28, l:l + 28], crop) or np.allclose(image[t:t + 28, l:l + 28][:, ::-1], crop)]
        assert matches
        shifted += (4, 4) not in matches
    assert shifted > 25   # 80 of the 81 positions move the image
