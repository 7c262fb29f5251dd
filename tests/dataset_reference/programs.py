"""Dataset programs in the style of MindSpore 2.x's dataset, transforms, eager-mode, sampler and
sentiment tutorials, written once against a `mindspore.dataset`-shaped module.

record.py runs them on real MindSpore and stores what they return in reference.json;
tests/test_dataset_tutorials.py runs them on runtime.dataset and compares. Only what does not depend
on a random generator is returned (MindSpore's shuffles draw from another generator than graphc's):
sources are read in order, and random samplers are checked by what any draw must satisfy.
"""
import io

import numpy as np


def arrays(value):
    """A JSON form of what a program saw: arrays as dtype, shape and values; tuples as lists."""
    if isinstance(value, (list, tuple)):
        return [arrays(v) for v in value]
    if isinstance(value, dict):
        return {str(k): arrays(v) for k, v in value.items()}
    if hasattr(value, "asnumpy"):
        value = value.asnumpy()
    if isinstance(value, (np.ndarray, np.generic)):
        return {"dtype": str(value.dtype), "shape": list(value.shape), "values": value.tolist()}
    return value


def rows(dataset, columns=None):
    return arrays(list(dataset.create_tuple_iterator(output_numpy=True) if columns is None else
                       dataset.create_tuple_iterator(columns=columns, output_numpy=True)))


def sources(ds):
    class Pairs:
        def __init__(self):
            self.data = np.arange(10, dtype=np.float32).reshape(5, 2)
            self.label = np.arange(5, dtype=np.int64)[:, None]

        def __getitem__(self, index):
            return self.data[index], self.label[index]

        def __len__(self):
            return len(self.data)

    class Counting:
        def __init__(self, start, end):
            self.start, self.end = start, end

        def __iter__(self):
            self.items = iter(range(self.start, self.end))
            return self

        def __next__(self):
            return next(self.items)

    def squares(n):
        for i in range(n):
            yield np.array([i, i * i], dtype=np.int32), float(i)

    pairs = ds.GeneratorDataset(source=Pairs(), column_names=["data", "label"], shuffle=False)
    listed = ds.GeneratorDataset([np.array(3), np.array(1), np.array(2)], column_names=["data"], shuffle=False)
    counting = ds.GeneratorDataset(source=Counting(1, 5), column_names=["data"])
    generated = ds.GeneratorDataset(source=lambda: squares(4), column_names=["pair", "value"])
    strings = ds.GeneratorDataset(["ab", "c"], "text", shuffle=False)
    first_three = ds.GeneratorDataset(lambda: squares(6), ["pair", "value"], None, None, 3)
    return {
        "pairs": rows(pairs), "pairs_size": pairs.get_dataset_size(), "pairs_columns": pairs.get_col_names(),
        "listed": rows(listed), "counting": rows(counting), "generated": rows(generated),
        "generated_size": generated.get_dataset_size(), "strings": rows(strings),
        "first_three": rows(first_three), "first_three_size": first_three.get_dataset_size(),
        "output_shapes": pairs.output_shapes(), "output_types": [str(t) for t in pairs.output_types()],
    }


def slices(ds):
    data = ([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12]], [0, 1, 0, 1, 0, 1])
    batched = ds.NumpySlicesDataset(data=data, column_names=["data", "label"], shuffle=False).batch(4)
    doubled = ds.NumpySlicesDataset(data=([1, 2, 3, 4, 5], [0, 1, 0, 1, 0]), column_names=["data", "label"],
                                    shuffle=False)
    doubled = doubled.map(lambda x: x * 2, input_columns=["data"]).batch(2, drop_remainder=True)
    by_dict = ds.NumpySlicesDataset({"a": [1.5, 2.5], "b": ["x", "yz"]}, shuffle=False)
    unnamed = ds.NumpySlicesDataset(np.arange(6).reshape(3, 2), shuffle=False)
    first_column = ds.NumpySlicesDataset(([1, 2], [3, 4]), column_names=["a", "b"], shuffle=False)
    first_column = first_column.map(lambda x: x * 10)    # no input_columns: the first column
    def steps():
        return ds.NumpySlicesDataset([1, 2, 3, 4, 5, 6], column_names=["n"], shuffle=False)

    def zipped():
        return ds.NumpySlicesDataset([1, 2], ["c"], shuffle=False).zip(ds.NumpySlicesDataset([5, 6, 7], ["d"],
                                                                                            shuffle=False))
    kept = steps().filter(lambda x: x < 4, input_columns=["n"])
    joined = ds.NumpySlicesDataset([1, 2], ["c"], shuffle=False).concat(ds.NumpySlicesDataset([3], ["c"],
                                                                                               shuffle=False))
    train, valid = ds.NumpySlicesDataset(list(range(10)), ["c"], shuffle=False).split([7, 3], randomize=False)
    repeated = ds.NumpySlicesDataset(list(range(4)), ["c"], shuffle=False).batch(3).repeat(2)
    return {
        "batched": rows(batched), "batched_size": batched.get_dataset_size(),
        "doubled": arrays([dict(d) for d in doubled.create_dict_iterator(output_numpy=True)]),
        "by_dict": rows(by_dict), "by_dict_columns": by_dict.get_col_names(), "unnamed": rows(unnamed),
        "unnamed_columns": unnamed.get_col_names(), "first_column": rows(first_column),
        "kept": rows(kept), "skipped": rows(steps().skip(4)), "taken": rows(steps().take(2)),
        "joined": rows(joined), "zipped": rows(zipped()), "train": rows(train), "valid": rows(valid),
        "repeated_size": repeated.get_dataset_size(), "repeat_count": repeated.get_repeat_count(),
        "batch_size": repeated.get_batch_size(), "projected": rows(zipped(), columns=["d"]),
        "batched_shapes": batched.output_shapes(),
    }


def image_pipeline(ds, vision, transforms, int32):
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, (6, 7, 9, 3)).astype(np.uint8)
    dataset = ds.NumpySlicesDataset({"image": images, "label": np.arange(6)}, shuffle=False)
    composed = transforms.Compose([vision.Resize((5, 4)), vision.Rescale(1.0 / 255.0, 0.0),
                                   vision.Normalize(mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3)), vision.HWC2CHW()])
    dataset = dataset.map(composed, input_columns="image")
    dataset = dataset.map(transforms.TypeCast(int32), input_columns="label").batch(4)
    batches = [(image.shape, float(image.sum()), label.dtype, label.tolist())
               for image, label in dataset.create_tuple_iterator(output_numpy=True)]
    return {"batches": [[list(s), round(total, 3), str(dtype), labels] for s, total, dtype, labels in batches]}


def eager_vision(vision):
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (6, 8, 3)).astype(np.uint8)
    gray = rng.integers(0, 256, (5, 7)).astype(np.uint8)
    floats = rng.random((6, 8, 3)).astype(np.float32)
    return {
        "resize_up": arrays(vision.Resize((9, 11))(image)), "resize_down": arrays(vision.Resize((4, 3))(image)),
        "resize_short_side": arrays(vision.Resize(4)(image)), "resize_gray": arrays(vision.Resize((8, 9))(gray)),
        "resize_nearest": arrays(vision.Resize((9, 5), vision.Inter.NEAREST)(image)),
        "resize_float": arrays(vision.Resize((7, 5))(floats)),
        "center_crop": arrays(vision.CenterCrop((3, 5))(image)),
        "center_crop_larger": arrays(vision.CenterCrop((7, 11))(gray)),
        "pad": arrays(vision.Pad(1)(gray)), "pad_pair": arrays(vision.Pad((1, 2), fill_value=9)(gray)),
        "pad_four": arrays(vision.Pad([1, 0, 2, 3], padding_mode=vision.Border.EDGE)(image)),
        "hwc2chw": arrays(vision.HWC2CHW()(image)), "hwc2chw_gray": arrays(vision.HWC2CHW()(gray)),
        "to_tensor": arrays(vision.ToTensor()(image)), "to_tensor_gray": arrays(vision.ToTensor()(gray)),
        "rescale_gray": arrays(vision.Rescale(1 / 255, -0.5)(gray)),
        "normalize_gray": arrays(vision.Normalize(mean=(0.1307 * 255,), std=(0.3081 * 255,))(gray)),
        "normalize_chw": arrays(vision.Normalize((1, 2, 3), (2, 4, 8), is_hwc=False)(image.transpose(2, 0, 1))),
        "flip": arrays(vision.HorizontalFlip()(image)), "flip_up": arrays(vision.VerticalFlip()(gray)),
        "random_flips": arrays([vision.RandomHorizontalFlip(1.0)(gray), vision.RandomVerticalFlip(0.0)(gray)]),
        "random_crop_shape": list(vision.RandomCrop(4, padding=2)(gray).shape),
    }


def pil_vision(vision):
    from PIL import Image
    rng = np.random.default_rng(9)
    pixels = rng.integers(0, 256, (12, 17, 3)).astype(np.uint8)
    picture = Image.fromarray(pixels)

    def pil(result):
        return {"mode": result.mode, "size": list(result.size), "pixels": arrays(np.asarray(result))}
    encoded = io.BytesIO()
    picture.save(encoded, format="PNG")
    png = np.frombuffer(encoded.getvalue(), np.uint8)
    return {
        "resize": pil(vision.Resize((7, 10))(picture)), "resize_short_side": pil(vision.Resize(5)(picture)),
        "center_crop": pil(vision.CenterCrop((5, 8))(picture)), "pad": pil(vision.Pad(2)(picture)),
        "flip": arrays(vision.HorizontalFlip()(picture)), "random_flip": pil(vision.RandomVerticalFlip(1.0)(picture)),
        "rescale": arrays(vision.Rescale(1 / 255, 0)(Image.fromarray(pixels[..., 0]))),
        "to_tensor": arrays(vision.ToTensor()(picture)),
        "decode": arrays(vision.Decode()(png)), "decode_to_pil": pil(vision.Decode(to_pil=True)(png)),
    }


def general_transforms(ds, transforms, float32):
    labels = ds.NumpySlicesDataset({"x": [[1, 2], [3, 4]], "y": [0, 2]}, shuffle=False)
    labels = labels.map(transforms.OneHot(3), "y")
    copies = ds.NumpySlicesDataset({"x": [[1, 2], [3, 4]], "y": [0, 1]}, shuffle=False)
    copies = copies.map(transforms.Duplicate(), "y", ["y", "y2"])
    return {
        "one_hot": arrays(transforms.OneHot(num_classes=5)(np.array(2))),
        "one_hot_many": arrays(transforms.OneHot(4)(np.array([3, 0], np.int32))),
        "one_hot_smoothed": arrays(transforms.OneHot(5, 0.1)(np.array(2))),
        "fill": arrays(transforms.Fill(0)(np.array([1, 2, 3, 4, 5]))),
        "fill_strings": arrays(transforms.Fill("x")(np.array(["a", "b"]))),
        "pad_end": arrays(transforms.PadEnd([5], 0)(np.array([1, 2, 3]))),
        "pad_end_cut": arrays(transforms.PadEnd([2])(np.array([1, 2, 3]))),
        "pad_end_2d": arrays(transforms.PadEnd([3, 3], 9)(np.array([[1, 2], [3, 4]]))),
        "pad_end_strings": arrays(transforms.PadEnd([3], "<pad>")(np.array(["a"]))),
        "duplicate": arrays(transforms.Duplicate()(np.array([1, 2]))),
        "type_cast": arrays(transforms.TypeCast(float32)(np.array([1, 2]))),
        "compose": arrays(transforms.Compose([lambda x: x + 1, transforms.TypeCast(float32)])(np.array([1, 2]))),
        "one_hot_map": rows(labels), "duplicate_map": rows(copies), "duplicate_columns": copies.get_col_names(),
    }


def text_transforms(ds, text, int64, float32):
    vocab = text.Vocab.from_list(["the", "cat", "sat"], special_tokens=["<unk>", "<pad>"], special_first=False)
    first = text.Vocab.from_list(["the", "cat"], ["<pad>"])
    by_dict = text.Vocab.from_dict({"a": 5, "b": 1})
    sentences = ds.GeneratorDataset(["Welcome to Beijing", "北京欢迎您！", "我喜欢China!"], "text",
                                    shuffle=False)
    sentences = sentences.map(text.BasicTokenizer())
    counted = text.Vocab.from_dataset(sentences)
    words = ds.GeneratorDataset(["a b b", "c b a a"], "text", shuffle=False).map(text.WhitespaceTokenizer())
    return {
        "vocab": vocab.vocab(), "special_first": first.vocab(), "by_dict": by_dict.vocab(),
        "tokens_to_ids": [vocab.tokens_to_ids("the"), vocab.tokens_to_ids(["cat", "zzz"])],
        "ids_to_tokens": [vocab.ids_to_tokens(4), vocab.ids_to_tokens([0, 9]), by_dict.ids_to_tokens(3)],
        "lookup": arrays(text.Lookup(vocab, "<unk>")(np.array(["the", "dog", "sat"]))),
        "lookup_one": arrays(text.Lookup(vocab, "<unk>")("cat")),
        "lookup_int64": arrays(text.Lookup(vocab, "<unk>", int64)(np.array(["cat"]))),
        "python_tokenizer": arrays(text.PythonTokenizer(lambda s: s.split())(np.array("Welcome to Beijing"))),
        "whitespace": arrays(text.WhitespaceTokenizer()("Welcome  to\tBeijing !")),
        "whitespace_offsets": arrays(text.WhitespaceTokenizer(True)("Wé  to")),
        "unicode_chars": arrays(text.UnicodeCharTokenizer()("Wé 北!")),
        "basic": arrays(text.BasicTokenizer()("我喜欢China! Hello, world's end.")),
        "basic_lower": arrays(text.BasicTokenizer(lower_case=True)("Héllo WORLD, Ça va?")),
        "basic_whitespace": arrays(text.BasicTokenizer(keep_whitespace=True)("a b,  c")),
        "basic_reserved": arrays(text.BasicTokenizer()("[CLS] a [unused1] [UNK] [foo]")),
        "basic_unreserved": arrays(text.BasicTokenizer(preserve_unused_token=False)("[CLS] a [unused1]")),
        "to_number": arrays(text.ToNumber(float32)(np.array(["1.5", "2"]))),
        "from_dataset": counted.vocab(), "counted": text.Vocab.from_dataset(words).vocab(),
        "top_k": text.Vocab.from_dataset(words, top_k=2).vocab(),
        "freq_range": text.Vocab.from_dataset(words, freq_range=(2, None), special_tokens=["<pad>"]).vocab(),
    }


def sentiment_pipeline(ds, text, transforms, float32):
    """The sentiment tutorial's preprocessing: tokens -> ids, padded to a fixed length, float labels."""
    class Reviews:
        docs = [["a", "great", "film"], ["terrible"], ["not", "a", "great", "film", "at", "all"]]
        labels = [[1], [0], [0]]

        def __getitem__(self, index):
            return self.docs[index], self.labels[index]

        def __len__(self):
            return len(self.docs)

    vocab = text.Vocab.from_list(["a", "film", "great", "not"], special_tokens=["<unk>", "<pad>"],
                                 special_first=False)
    reviews = ds.GeneratorDataset(Reviews(), column_names=["text", "label"], shuffle=False)
    reviews = reviews.map(operations=[text.Lookup(vocab, unknown_token="<unk>"),
                                      transforms.PadEnd([5], pad_value=vocab.tokens_to_ids("<pad>"))],
                          input_columns=["text"])
    reviews = reviews.map(operations=[transforms.TypeCast(float32)], input_columns=["label"])
    return {"batches": rows(reviews.batch(2, drop_remainder=False)), "size": len(vocab.vocab())}


def samplers(ds):
    letters = list("abcdefghijkl")

    class EveryOther(ds.Sampler):
        def __iter__(self):
            return iter(range(0, 10, 2))

    class Picks:
        def __getitem__(self, index):
            return [3, 4, 3, 2][index]

        def __len__(self):
            return 4

    def read(sampler, data=letters):
        return rows(ds.NumpySlicesDataset(data, column_names=["c"], sampler=sampler))

    with_replacement = read(ds.RandomSampler(replacement=True, num_samples=20), list(range(8)))
    without = read(ds.RandomSampler(replacement=False, num_samples=5), list(range(8)))
    weighted = read(ds.WeightedRandomSampler([0.8, 0.5] + [0] * 8, num_samples=6), list(range(10)))
    subset_random = read(ds.SubsetRandomSampler([5, 2, 7]), list(range(10)))
    return {
        "sequential": read(ds.SequentialSampler(start_index=2, num_samples=3)),
        "distributed": [read(ds.DistributedSampler(num_shards=4, shard_id=k, shuffle=False), list(range(12)))
                        for k in range(4)],
        "subset": read(ds.SubsetSampler([5, 2, 7], num_samples=2)), "custom": read(EveryOther()),
        "custom_size": ds.NumpySlicesDataset(letters, ["c"], sampler=EveryOther()).get_dataset_size(),
        "indexable": read(Picks()), "index_list": read([3, 1, 1]),
        "random_with_replacement": [len(with_replacement), all(0 <= r[0]["values"] < 8 for r in with_replacement)],
        "random_without": [len(without), len({r[0]["values"] for r in without})],
        "weighted": [len(weighted), sorted({r[0]["values"] for r in weighted} | {0, 1}) == [0, 1]],
        "subset_random": sorted(r[0]["values"] for r in subset_random),
    }


def python_dicts(ds):
    """Columns holding Python dicts: read from a generator or slices, made and unpacked by pyfunc maps,
    stacked by batch, given whole by a per_batch_map, and handed out with Tensor leaves."""
    def readings():
        for i in range(4):
            yield {"step": i, "pos": np.array([i, -i], np.float32), "meta": {"odd": i % 2 == 1}}, i * 10

    def summary(values):
        return {"total": np.array(float(sum(values)), np.float32), "count": len(values)}

    def per_batch(values, info):
        return summary(values), {"doubled": np.array(values) * 2}     # all dicts or none, as MindSpore needs

    def unpack(record):
        return record["step"], record["pos"]

    def made():
        return ds.GeneratorDataset(readings, ["record", "label"], shuffle=False)

    def flat():        # batch cannot stack the nested dict "meta": leave it out first
        return made().map(lambda record: {"step": record["step"], "pos": record["pos"]}, input_columns=["record"])

    return {
        "generated": rows(made()),
        "mapped": rows(ds.GeneratorDataset(lambda: (np.int32(i) for i in range(3)), ["n"], shuffle=False)
                       .map(lambda n: {"n": n, "square": n * n}, input_columns=["n"])),
        "batched": rows(flat().batch(3)),
        "unpacked": rows(flat().map(unpack, input_columns=["record"], output_columns=["step", "pos"])),
        "per_batch_map": rows(ds.NumpySlicesDataset([1, 2, 3, 4], ["v"], shuffle=False)
                              .batch(2, per_batch_map=per_batch, output_columns=["summary", "doubled"])),
        "slices": rows(ds.NumpySlicesDataset({"d": [{"a": 1}, {"a": 2}]}, shuffle=False)),
        "tensors": arrays(next(made().create_dict_iterator(num_epochs=1))),
    }
