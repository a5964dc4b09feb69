r"""Rooted trees: the elementary differentials of the counter terms.

A tree with children ``(t_1, …, t_m)`` stands for :math:`F^{(m)}[t_1, …, t_m]`, the m-th
derivative of the field :math:`F = -\nabla f` applied to the children's vectors; the
counter terms are sums of such trees with rational coefficients (chapter 3 of the book).
"""

from ._core.trees import LEAF as LEAF
from ._core.trees import Tree as Tree
from ._core.trees import counter_term_trees as counter_term_trees
from ._core.trees import graft as graft
from ._core.trees import lie_derivative as lie_derivative
from ._core.trees import make_tree as make_tree
from ._core.trees import modified_field_term as modified_field_term
from ._core.trees import num_nodes as num_nodes
from ._core.trees import tree_to_str as tree_to_str

__all__ = ["Tree", "LEAF", "make_tree", "num_nodes", "graft", "lie_derivative", "modified_field_term",
           "counter_term_trees", "tree_to_str"]
