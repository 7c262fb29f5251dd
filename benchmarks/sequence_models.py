"""The recurrent networks benchmarks/models.py times: a classifier reading the last hidden state of an
LSTM or a GRU (batch first), optionally over an embedding of integer tokens and in both directions."""
from graphc import nn, ops


class SequenceClassifier(nn.Cell):
    """[N, steps, features] floats (or [N, steps] token ids with `vocab`) -> [N, num_classes] logits,
    from the last layer's final hidden state (both directions' concatenated when bidirectional)."""

    def __init__(self, kind, input_size, hidden_size, num_classes=10, vocab=None, bidirectional=False):
        super().__init__()
        self.kind, self.bidirectional = kind, bidirectional
        self.embedding = nn.Embedding(vocab, input_size) if vocab else None
        self.rnn = getattr(nn, kind)(input_size, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.fc = nn.Dense(hidden_size * (2 if bidirectional else 1), num_classes)

    def construct(self, x):
        if self.embedding is not None:
            x = self.embedding(x)
        _, state = self.rnn(x)
        h_n = state[0] if self.kind == "LSTM" else state
        last = ops.concat([h_n[-2], h_n[-1]], axis=1) if self.bidirectional else h_n[-1]
        return self.fc(last)
