"""Loop-IR traversal (visit.py): children, walk, map_children and Mutator over every node kind."""

from __future__ import annotations

from mlc.backends.loop import ir
from mlc.backends.loop.ir import (Allocate, Assign, Binary, Block, Buffer, Call, Cast, Const, For,
                                  Let, Load, Select, Store, Unary, Var)
from mlc.backends.loop.transform import substitute
from mlc.backends.loop.visit import Mutator, children, map_children, stmt_exprs, walk
from mlc.ir import DType

X = Buffer("x", DType.float32, (8,))
Y = Buffer("y", DType.float32, (8,), "output")
T = Buffer("t", DType.float32, (4,), "scratch")
I, ACC = Var("i"), Var("acc", DType.float32)

# one of every expression kind, sharing LOAD as lowering shares subexpressions
LOAD = Load(X, I)
PRODUCT, SELECT = Binary("mul", LOAD, ACC), Select(Binary("lt", I, Const(4, DType.int64)),
                                                   Call("exp", (LOAD,)), Unary("neg", LOAD))
CASTS = Cast(DType.float32, Cast(DType.int32, LOAD))
EXPRS = [Const(2.0, DType.float32), ACC, LOAD, PRODUCT, SELECT, CASTS]
BODY = Block((Let(ACC, Const(0.0, DType.float32)), Assign(ACC, Binary("add", ACC, SELECT)),
              Allocate(T, Store(T, Const(0, DType.int64), CASTS)), Store(Y, I, PRODUCT)))
NEST = For(I, Const(0, DType.int64), Const(8, DType.int64), BODY)
STMT_KINDS = {c for c in vars(ir).values() if isinstance(c, type) and issubclass(c, ir.Stmt)} - {
    ir.Stmt}
EXPR_KINDS = {c for c in vars(ir).values() if isinstance(c, type) and issubclass(c, ir.Expr)} - {
    ir.Expr}


def test_children_and_walk_cover_every_kind():
    assert {type(s) for s in walk(NEST)} == STMT_KINDS
    assert {type(x) for s in walk(NEST) for e in stmt_exprs(s) for x in walk(e)} == EXPR_KINDS
    assert children(NEST) == (BODY,) and children(BODY) == BODY.stmts
    assert children(PRODUCT) == (LOAD, ACC) and children(I) == ()
    assert [type(s) for s in walk(BODY)][:4] == [Block, Let, Assign, Allocate]  # program order


def test_identity_mapping_returns_the_same_objects():
    for s in walk(NEST):
        assert map_children(s, lambda c: c, lambda e: e) is s
    for e in EXPRS:
        assert map_children(e, lambda c: c) is e
    assert Mutator().stmt(NEST) is NEST


def test_mapping_changes_exactly_the_targeted_nodes():
    class AccToOne(Mutator):
        def expr(self, e):
            return ir.const(1.0, DType.float32) if e == ACC else super().expr(e)

    new = AccToOne().stmt(NEST)
    let, assign, alloc, store = new.body.stmts
    assert let is BODY.stmts[0] and alloc is BODY.stmts[2]  # untouched statements stay
    assert assign.var == ACC and store.value == LOAD  # x * 1 folds to x
    assert assign.value.a == ir.const(1.0, DType.float32)
    assert assign.value.b is SELECT  # the other operand is kept, not copied


def test_mutator_visits_every_kind_and_shared_expressions_once():
    class Count(Mutator):
        def __init__(self):
            super().__init__()
            self.seen = []

        def stmt(self, s):
            self.seen.append(type(s))
            return super().stmt(s)

        def expr(self, e):
            self.seen.append(type(e))
            return super().expr(e)

    counter = Count()
    counter.stmt(NEST)
    assert set(counter.seen) == STMT_KINDS | EXPR_KINDS
    assert counter.seen.count(Load) == 1  # LOAD is shared by every statement


def test_rebuilt_nodes_fold_and_flatten():
    a, b, f = Var("a"), Var("b"), Var("f")
    store = Store(Y, ir.add(ir.mul(a, 56), b), Load(X, a))
    loop = For(a, ir.const(0), ir.const(2), store)
    collapsed = substitute(loop, {"a": ir.floordiv(f, 56), "b": ir.mod(f, 56)})
    assert collapsed.body.index == f  # (f//56)*56 + f%56 folds back to f
    assert collapsed.var == a  # a maps to an expression, not a Var: the loop keeps its name
    assert substitute(loop, {"a": f}).var == f  # a Var renames it
    dropped = map_children(BODY, lambda s: Block(()) if isinstance(s, Allocate) else s)
    assert dropped.stmts == (BODY.stmts[0], BODY.stmts[1], BODY.stmts[3])  # blocks flatten
    assert map_children(Block((BODY.stmts[0], BODY.stmts[2])),
                        lambda s: Block(()) if isinstance(s, Allocate) else s) is BODY.stmts[0]
