"""The module walk shared by ``convert`` and ``to_tltorch_model``: replace some children of a
model in place, depth first, and say what was replaced."""

#: Returned by a ``replacement`` function: keep this child as it is and do not look inside it.
KEEP = object()


def replace_children(model, replacement):
    """Walks ``model``'s submodules depth first and replaces some of them, in place.

    ``replacement(child, qualified_name)`` returns the module to put in the child's place,
    ``KEEP`` to leave the child alone without looking inside it, or None to look inside it.
    Returns ``{qualified name: the module it replaced}``, in the model's order.
    """
    replaced = {}

    def visit(parent, prefix):
        for name, child in list(parent.named_children()):
            qualified = prefix + name
            new = replacement(child, qualified)
            if new is None:
                visit(child, qualified + ".")
            elif new is not KEEP:
                setattr(parent, name, new)
                replaced[qualified] = child

    visit(model, "")
    return replaced
