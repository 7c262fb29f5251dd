"""Metrics against values worked out by hand (several are the examples of MindSpore's documentation)."""
import numpy as np
import pytest

from runtime.metrics import (F1, MAE, MSE, Accuracy, Fbeta, Loss, Metric, Precision, Recall, Top1CategoricalAccuracy,
                             Top5CategoricalAccuracy, TopKCategoricalAccuracy, get_metrics)

# 3 samples, 2 classes: predicted classes are 1, 0, 0; true classes 1, 0, 1.
SCORES = np.array([[0.2, 0.5], [0.3, 0.1], [0.9, 0.6]])
LABELS = np.array([1, 0, 1])


class FakeTensor:
    def __init__(self, array):
        self.array = np.asarray(array)

    def asnumpy(self):
        return self.array


def test_accuracy_sparse_one_hot_and_tensor_inputs():
    assert Accuracy()(SCORES, LABELS) == pytest.approx(2 / 3)
    one_hot = np.eye(2)[LABELS]
    assert Accuracy()(SCORES, one_hot) == pytest.approx(2 / 3)
    assert Accuracy()(FakeTensor(SCORES), FakeTensor(LABELS)) == pytest.approx(2 / 3)
    assert Accuracy()(SCORES.tolist(), LABELS.tolist()) == pytest.approx(2 / 3)


def test_accuracy_takes_mindspores_eval_type_positionally():
    metric = Accuracy("classification")
    metric.update(np.array([[0.2, 0.5], [0.3, 0.1], [0.9, 0.6]]), np.array([1, 0, 1]))
    assert metric.eval() == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="Accuracy: eval_type='multilabel' is not supported"):
        Accuracy("multilabel")


def test_accuracy_accumulates_over_updates_and_clears():
    metric = Accuracy()
    metric.update(SCORES, LABELS)                      # 2 of 3
    metric.update(np.array([[0.0, 1.0]]), np.array([0]))  # 0 of 1
    assert metric.eval() == pytest.approx(2 / 4)
    metric.clear()
    with pytest.raises(RuntimeError, match="no samples"):
        metric.eval()


def test_classification_input_errors():
    metric = Accuracy()
    with pytest.raises(ValueError, match=r"takes 2 inputs"):
        metric.update(SCORES)
    with pytest.raises(ValueError, match=r"shaped \(N, C\)"):
        metric.update(np.ones(3), LABELS)
    with pytest.raises(ValueError, match=r"got shape \(2,\)"):
        metric.update(SCORES, LABELS[:2])
    metric.update(SCORES, LABELS)
    with pytest.raises(ValueError, match="3 classes, earlier updates had 2"):
        metric.update(np.ones((1, 3)), np.array([0]))


def test_top_k():
    scores = np.array([[0.2, 0.5, 0.3, 0.6, 0.2], [0.1, 0.35, 0.5, 0.2, 0.0], [0.9, 0.6, 0.2, 0.01, 0.3]])
    labels = np.array([2, 0, 1])
    # top-3 sets: {3, 1, 2}, {2, 1, 3}, {0, 1, 4}: hits for samples 0 and 2
    assert TopKCategoricalAccuracy(3)(scores, labels) == pytest.approx(2 / 3)
    assert Top1CategoricalAccuracy()(scores, labels) == 0.0
    assert Top5CategoricalAccuracy()(scores, labels) == 1.0
    # ties go to the lower class index: with equal scores the top-1 is class 0
    assert Top1CategoricalAccuracy()(np.array([[1.0, 1.0]]), np.array([0])) == 1.0
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        TopKCategoricalAccuracy(0)


def test_precision_recall_f1_per_class_and_average():
    # class 0: predicted twice, right once, actually once; class 1: predicted once, right, actually twice
    np.testing.assert_allclose(Precision()(SCORES, LABELS), [1 / 2, 1 / 1])
    np.testing.assert_allclose(Recall()(SCORES, LABELS), [1 / 1, 1 / 2])
    np.testing.assert_allclose(F1()(SCORES, LABELS), [2 / 3, 2 / 3])
    precision = Precision()
    precision.update(SCORES, LABELS)
    assert precision.eval(average=True) == pytest.approx(0.75)
    # F-beta with beta=2: (1+4) tp / (4 actual + predicted) = 5/(4+2), 5/(8+1)
    np.testing.assert_allclose(Fbeta(2)(SCORES, LABELS), [5 / 6, 5 / 9])


def test_precision_of_a_class_never_predicted_is_zero():
    np.testing.assert_allclose(Precision()(np.array([[1.0, 0.0]]), np.array([1])), [0.0, 0.0])


def test_precision_rejects_labels_outside_the_classes():
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        Precision()(SCORES, np.array([0, 1, 2]))


def test_loss_is_the_mean_of_update_means():
    metric = Loss()
    metric.update(np.array(0.2))
    metric.update(FakeTensor([0.1, 0.3, 0.8]))  # mean 0.4
    assert metric.eval() == pytest.approx(0.3)
    with pytest.raises(ValueError, match="scalar or 1-D"):
        metric.update(np.ones((2, 2)))


def test_mae_and_mse_divide_by_the_number_of_samples():
    assert MAE()(np.array([0.1, 0.2, 0.6, 0.9]), np.array([0.1, 0.25, 0.7, 0.9])) == pytest.approx(0.0375)
    assert MSE()(np.array([0.1, 0.2, 0.6, 0.9]), np.array([0.1, 0.25, 0.5, 0.9])) == pytest.approx(0.003125)
    # 2 samples of 2 values: total absolute error 1 + 2 + 0 + 1 = 4, over 2 samples
    assert MAE()(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.0, 0.0], [3.0, 5.0]])) == pytest.approx(2.0)
    with pytest.raises(RuntimeError):
        MSE().eval()


def test_get_metrics_from_names_and_dicts():
    metrics = get_metrics({"acc", "loss", "F1"})
    assert {name: type(m) for name, m in metrics.items()} == {"acc": Accuracy, "loss": Loss, "F1": F1}
    mine = Recall()
    mixed = get_metrics({"r": mine, "a": "accuracy"})
    assert mixed["r"] is mine and isinstance(mixed["a"], Accuracy)
    assert get_metrics(["top_1_accuracy", "top_5_accuracy", "mae", "mse", "precision", "recall"]).keys() == \
        {"top_1_accuracy", "top_5_accuracy", "mae", "mse", "precision", "recall"}
    assert get_metrics(None) == {}


def test_get_metrics_errors():
    with pytest.raises(KeyError) as info:
        get_metrics({"acurracy"})
    assert "acurracy" in str(info.value) and "accuracy" in str(info.value) and "top_5_accuracy" in str(info.value)
    with pytest.raises(TypeError):
        get_metrics(3)


def test_metric_is_abstract():
    with pytest.raises(TypeError):
        Metric()
