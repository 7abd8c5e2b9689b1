/* types.c — value types, the op table, and the names of enums.
 *
 * The op table is generated from ops.def; every other table indexed by an
 * enum carries a static_assert on its size.
 */
#include "ir.h"

#include <assert.h>
#include <string.h>

static const IrOpInfo op_table[] = {
#define OP(e, name, lo, hi, kind, attrs, grad, props, x, w) \
    {name, lo, hi, kind, attrs, grad, props, x, w},
#include "ops.def"
#undef OP
};
static_assert(sizeof op_table / sizeof op_table[0] == IR_OP_COUNT, "op table size");

const IrOpInfo *ir_op_info(IrOp op)
{
    IR_ASSERT(op >= 0 && op < IR_OP_COUNT);
    return &op_table[op];
}

bool ir_op_has(IrOp op, unsigned p)
{
    return (ir_op_info(op)->props & p) == p;
}

int ir_op_bcast_operand(IrOp op)
{
    return ir_op_has(op, IR_P_BCAST) ? ir_op_info(op)->max_in - 1 : -1;
}

IrOp ir_op_by_name(const char *name)
{
    for (int i = 0; i < IR_OP_COUNT; i++)
        if (strcmp(op_table[i].name, name) == 0)
            return (IrOp)i;
    return IR_OP_COUNT;
}

static const char *const init_names[] = {
    "default", "he", "glorot", "normal", "zeros", "ones",
};
static_assert(sizeof init_names / sizeof init_names[0] == IR_INIT_COUNT, "init names");

const char *ir_init_name(IrInit i) { return init_names[i]; }

static const char *const opt_names[] = {"sgd", "adam", "adamw"};
static_assert(sizeof opt_names / sizeof opt_names[0] == OPT_COUNT, "optimizer names");
static const char *const sched_names[] = {"constant", "warmup", "cosine"};
static_assert(sizeof sched_names / sizeof sched_names[0] == LR_COUNT, "schedule names");
static const char *const method_names[] = {"backprop", "greedy", "chunked", "overlap",
                                             "last-layer"};
static_assert(sizeof method_names / sizeof method_names[0] == METHOD_COUNT, "method names");

const char *ir_optimizer_name(IrOptimizer o) { return opt_names[o]; }
const char *ir_lr_schedule_name(IrLrSchedule s) { return sched_names[s]; }
const char *ir_method_name(IrMethod m) { return method_names[m]; }
static const char *const balance_names[] = {"flops", "memory", "time"};
static_assert(sizeof balance_names / sizeof balance_names[0] == BALANCE_COUNT, "balance names");
const char *ir_balance_name(IrBalance b) { return balance_names[b]; }

bool ir_type_batched(const IrType *t)
{
    return t->rank > 0 && t->dim[0] == IR_DIM_N;
}

int64_t ir_type_numel(const IrType *t)
{
    int64_t n = 1;
    for (int i = ir_type_batched(t) ? 1 : 0; i < t->rank; i++)
        n *= t->dim[i];
    return n;
}

bool ir_type_equal(const IrType *a, const IrType *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dim[i] != b->dim[i])
            return false;
    return true;
}

void ir_type_str(const IrType *t, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "%s[", t->dtype == IR_F32 ? "f32" : "i32");
    for (int i = 0; i < t->rank && n < cap; i++) {
        const char *sep = i ? "," : "";
        if (t->dim[i] == IR_DIM_N)
            n += (size_t)snprintf(buf + n, cap - n, "%sN", sep);
        else
            n += (size_t)snprintf(buf + n, cap - n, "%s%lld", sep, (long long)t->dim[i]);
    }
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
}

void ir_train_cfg_default(IrTrainCfg *t)
{
    memset(t, 0, sizeof *t);
    t->data = "fashion_mnist";
    t->optimizer = OPT_ADAM;
    t->lr = 1e-3f;
    t->beta1 = 0.9f;
    t->beta2 = 0.999f;
    t->eps = 1e-8f;
    t->batch = 128;
    t->epochs = 1;
    t->lr_schedule = LR_CONSTANT;
    t->seed = 1;
    t->loc = IR_LOC_NONE;
}

const char *ir_local_method_name(const IrLocalCfg *l)
{
    return l->method_name ? l->method_name : ir_method_name(l->method);
}

void ir_local_cfg_default(IrLocalCfg *l)
{
    memset(l, 0, sizeof *l);
    l->method = METHOD_BACKPROP;
    l->blocks = 0;
    l->overlap = 2;
    l->loc = IR_LOC_NONE;
}
