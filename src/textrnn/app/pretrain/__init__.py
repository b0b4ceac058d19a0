"""Embedding pretraining: the lecture's steps 1 and 2 (train on a large dataset, keep only the
embedding), plus standard word-vector files. Step 3 is `Embedding(weights=[m], trainable=False)` or
`textrnn train MODEL --embedding EMB_DIR --freeze-embedding`."""

from textrnn.app.pretrain.vectors import PretrainedEmbedding, align_vectors, read_word_vectors

__all__ = ["PretrainedEmbedding", "align_vectors", "read_word_vectors"]
