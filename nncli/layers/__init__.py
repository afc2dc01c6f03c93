"""Layers: one file each, all following the contract in base.py."""

from nncli.layers.activations import ACTIVATIONS, Activation, Softmax
from nncli.layers.base import Layer
from nncli.layers.conv import Conv
from nncli.layers.dense import Dense
from nncli.layers.embedding import Embedding
from nncli.layers.flatten import Flatten
from nncli.layers.gru_lite import GruLite
from nncli.layers.pool import Pool
from nncli.layers.rnn import RNN, Recurrent

__all__ = ["ACTIVATIONS", "Activation", "Conv", "Dense", "Embedding", "Flatten", "GruLite",
           "Layer", "Pool", "RNN", "Recurrent", "Softmax"]
