"""The dataset tutorials' shapes: a random-access GeneratorDataset, map with a Compose of vision
transforms, batch, the iterators, NumpySlicesDataset from a dict, vision ops on one HWC image, and a
text vocabulary with Lookup and PadEnd."""
import json

import numpy as np
import mindspore
from mindspore.dataset import GeneratorDataset, NumpySlicesDataset, text, transforms, vision

rng = np.random.default_rng(5)


class RandomAccessDataset:
    def __init__(self):
        self._data = rng.integers(0, 256, size=(10, 8, 8, 3)).astype(np.uint8)
        self._label = np.arange(10, dtype=np.int64)

    def __getitem__(self, index):
        return self._data[index], self._label[index]

    def __len__(self):
        return len(self._data)


source = RandomAccessDataset()
dataset = GeneratorDataset(source, column_names=["image", "label"], shuffle=False)
result = {"size": dataset.get_dataset_size(), "columns": dataset.get_col_names()}
composed = transforms.Compose([vision.Rescale(1.0 / 255.0, 0.0),
                               vision.Normalize(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)),
                               vision.HWC2CHW()])
dataset = dataset.map(composed, input_columns="image")
dataset = dataset.map(transforms.TypeCast(mindspore.int32), input_columns="label")
dataset = dataset.batch(4, drop_remainder=False)
batches = [(image.shape, image.asnumpy().sum().round(3).item(), label.asnumpy().tolist())
           for image, label in dataset.create_tuple_iterator()]
result["batches"] = [[list(shape), total, labels] for shape, total, labels in batches]
result["batch_count"] = dataset.get_dataset_size()

slices = NumpySlicesDataset({"x": np.arange(12, dtype=np.float32).reshape(6, 2), "y": np.arange(6)}, shuffle=False)
slices = slices.skip(1).take(4)
result["dict_rows"] = [{"x": row["x"].tolist(), "y": int(row["y"])}
                       for row in slices.create_dict_iterator(output_numpy=True)]

image = source[3][0]
resized = vision.Resize((4, 4))(image)
cropped = vision.CenterCrop(4)(image)
flipped = vision.HorizontalFlip()(image)
result["single_image"] = [list(resized.shape), str(resized.dtype), cropped.astype(np.int64).sum().item(),
                          bool((flipped[:, ::-1] == image).all())]

vocab = text.Vocab.from_list(["home", "behind", "the", "world", "ahead"], special_tokens=["<pad>", "<unk>"],
                             special_first=True)
words = NumpySlicesDataset({"text": np.array(["behind", "the", "moon"])}, shuffle=False)
words = words.map(text.Lookup(vocab, "<unk>"), input_columns="text")
result["lookup"] = [int(row[0]) for row in words.create_tuple_iterator(output_numpy=True)]
result["pad_end"] = transforms.PadEnd([6], pad_value=0)(np.array([3, 4, 5])).tolist()
result["tokens_to_ids"] = vocab.tokens_to_ids(["world", "home"])
print("RESULT", json.dumps(result))
