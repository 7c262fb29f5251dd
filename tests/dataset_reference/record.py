"""Records what real MindSpore gives for the programs of programs.py, into reference.json.

Run it with a Python that has MindSpore 2.10 and Pillow (never a dependency of graphc or its tests):
    python -m venv ~/msvenv && ~/msvenv/bin/pip install mindspore==2.10.0 "numpy<2" Pillow
    ~/msvenv/bin/python tests/dataset_reference/record.py
tests/test_dataset_tutorials.py runs the same programs on runtime.dataset and compares.
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import programs  # noqa: E402


def run_all(ds, vision, transforms, text, dtypes):
    """Every program's result, by name, with `dtypes` the module holding int32, int64 and float32."""
    return {
        "sources": programs.sources(ds),
        "slices": programs.slices(ds),
        "image_pipeline": programs.image_pipeline(ds, vision, transforms, dtypes.int32),
        "eager_vision": programs.eager_vision(vision),
        "pil_vision": programs.pil_vision(vision),
        "general_transforms": programs.general_transforms(ds, transforms, dtypes.float32),
        "text_transforms": programs.text_transforms(ds, text, dtypes.int64, dtypes.float32),
        "sentiment_pipeline": programs.sentiment_pipeline(ds, text, transforms, dtypes.float32),
        "samplers": programs.samplers(ds),
        "python_dicts": programs.python_dicts(ds),
    }


if __name__ == "__main__":
    import mindspore
    import mindspore.dataset as ds
    from mindspore.dataset import text, transforms, vision
    reference = {"mindspore": mindspore.__version__, "results": run_all(ds, vision, transforms, text, mindspore)}
    (HERE / "reference.json").write_text(json.dumps(reference, indent=None, ensure_ascii=False) + "\n")
    print(f"recorded {len(reference['results'])} programs with MindSpore {reference['mindspore']}")
