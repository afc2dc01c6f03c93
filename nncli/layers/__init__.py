"""Layers: one file each, all following the contract in base.py.

A new layer needs no entry here: nncli.layers.registry finds every layer class of this
package by itself (see its docstring for what a layer file declares). The names below are
kept for code that imports the built-in classes directly.
"""

from nncli.layers.activations import ACTIVATIONS, Activation, Softmax
from nncli.layers.base import Layer
from nncli.layers.conv import Conv
from nncli.layers.dense import Dense
from nncli.layers.embedding import Embedding
from nncli.layers.flatten import Flatten
from nncli.layers.gru_lite import GruLite
from nncli.layers.pool import Pool
from nncli.layers.recurrent import Recurrent
from nncli.layers.rnn import RNN

__all__ = ["ACTIVATIONS", "Activation", "Conv", "Dense", "Embedding", "Flatten", "GruLite",
           "Layer", "Pool", "RNN", "Recurrent", "Softmax"]
