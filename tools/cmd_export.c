/* cmd_export.c — `lnet export`: a trained model out of lnet.
 *
 * `--torch FILE.py` writes a PyTorch module with the model's forward pass —
 * the task network from its inputs to the task loss's prediction, in
 * evaluation mode — and a loader for lnet checkpoints. Layers become the
 * modules a PyTorch user expects: a matmul by a parameter followed by its
 * bias is an nn.Linear (lnet stores dense weights [in, out]; the loader
 * transposes them to PyTorch's [out, in]), a conv2d and its bias an
 * nn.Conv2d, a layernorm an nn.LayerNorm, a batchnorm an nn.BatchNorm1d/2d
 * (its running statistics the module's buffers), an embedding an nn.Embedding; any
 * other parameter is an nn.Parameter in lnet's layout. Auxiliary heads are
 * not part of the export (they are training scaffolding). The module reads
 * the checkpoint itself (safetensors: an 8-byte header length, a JSON
 * header, the raw tensors), so it needs only torch.
 *
 * With --load, the checkpoint is checked against the model now (every
 * parameter present with its shape), so a mismatch is an lnet error rather
 * than a Python one later.
 */
#include "cli.h"
#include "onnx_write.h"
#include "safetensors.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const CliOpt export_opts[] = {
    {"torch", "FILE.py", "write a PyTorch nn.Module with the model's forward and a checkpoint loader"},
    {"onnx", "FILE.onnx", "write an ONNX model (opset 17) with CKPT's parameters (needs --load)"},
    {"load", "CKPT", "the checkpoint: checked against the model (--torch), the weights (--onnx)"},
    {NULL, NULL, NULL}};
static const CliCmd export_cmd = {
    "export", "FILE (--torch OUT.py | --onnx OUT.onnx --load CKPT) [options]",
    "Export a model for use outside lnet.",
    export_opts,
    "Both hold the task network, from the inputs to the prediction the loss scores\n"
    "(auxiliary heads are left out). The ONNX graph's input is named as in the model,\n"
    "its output \"output\" (the logits); the batch dimension is \"N\".\n"
    "The PyTorch module holds the task network in\n"
    "evaluation mode: dropout is the identity unless the module is put in training\n"
    "mode. Use it as\n"
    "    import model; net = model.load(\"run.ckpt\"); logits = net(x)\n"
    "where x is what the model's input holds during training (Fashion-MNIST: pixels\n"
    "/ 255 normalised by mean 0.2860 and std 0.3530; text: byte ids)."};

/* How a parameter reaches PyTorch. */
typedef enum { P_RAW, P_LINEAR, P_CONV, P_LAYERNORM, P_EMBEDDING, P_BATCHNORM } PKind;

typedef struct {
    PKind kind;
    int module;         /* node id of the op the module replaces (linear/conv/ln/emb) */
    const char *key;    /* "weight" / "bias" / attribute name for P_RAW */
    bool transpose;
} PMap;

typedef struct {
    const IrGraph *g;
    int *uses;          /* uses[id]: needed nodes reading id */
    bool *need;
    int *alias;         /* the node whose variable holds id's value */
    int *bias_of;       /* bias_of[op]: the fused bias_add's bias param, or -1 */
    char (*mod)[64];    /* mod[id]: module / attribute name of op or raw param id */
    PMap *pm;           /* pm[param id] */
} Ex;

static void sanitize(const char *s, size_t cut, char *out, size_t cap)
{
    size_t j = 0;
    if (isdigit((unsigned char)s[0]) && j + 1 < cap) out[j++] = '_';
    for (size_t i = 0; i < cut && s[i] && j + 1 < cap; i++)
        out[j++] = isalnum((unsigned char)s[i]) ? s[i] : '_';
    out[j] = 0;
}

/* The name without its last ".part" (a layer's prefix), as an identifier. */
static void prefix_name(const IrNode *p, char *out, size_t cap)
{
    const char *nm = p->name ? p->name : "param";
    const char *dot = strrchr(nm, '.');
    sanitize(nm, dot ? (size_t)(dot - nm) : strlen(nm), out, cap);
}

/* The single needed use of id, or -1. */
static int only_use(const Ex *e, int id)
{
    if (e->uses[id] != 1) return -1;
    for (int i = id + 1; i < e->g->n_nodes; i++) {
        const IrNode *n = e->g->nodes[i];
        if (!e->need[i]) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == id) return i;
    }
    return -1;
}

static bool is_param(const Ex *e, int id) { return e->g->nodes[id]->op == IR_OP_PARAM; }

/* Operands lo..hi of n are parameters that n alone reads. */
static bool own_params(const Ex *e, const IrNode *n, int lo, int hi)
{
    for (int k = lo; k <= hi; k++)
        if (!is_param(e, n->in[k]) || e->uses[n->in[k]] != 1)
            return false;
    return true;
}

/* Decides which ops become PyTorch modules and how each parameter maps. */
static void plan_modules(Ex *e)
{
    const IrGraph *g = e->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        if (!e->need[i]) continue;
        PKind kind = P_RAW;
        int w = -1;
        if ((n->op == IR_OP_MATMUL || n->op == IR_OP_CONV2D) && is_param(e, n->in[1]) &&
            e->uses[n->in[1]] == 1) {
            kind = n->op == IR_OP_MATMUL ? P_LINEAR : P_CONV;
            w = n->in[1];
        } else if (n->op == IR_OP_LAYERNORM && is_param(e, n->in[1]) && is_param(e, n->in[2]) &&
                   e->uses[n->in[1]] == 1 && e->uses[n->in[2]] == 1) {
            kind = P_LAYERNORM;
            w = n->in[1];
        } else if (n->op == IR_OP_BATCHNORM && own_params(e, n, 1, 4)) {
            kind = P_BATCHNORM;
            w = n->in[1];
        } else if (n->op == IR_OP_EMBEDDING && is_param(e, n->in[1]) && e->uses[n->in[1]] == 1) {
            kind = P_EMBEDDING;
            w = n->in[1];
        }
        if (kind == P_RAW) continue;
        prefix_name(g->nodes[w], e->mod[i], sizeof e->mod[i]);
        e->pm[w] = (PMap){kind, i, "weight", kind == P_LINEAR};
        if (kind == P_LAYERNORM || kind == P_BATCHNORM)
            e->pm[n->in[2]] = (PMap){kind, i, "bias", false};
        if (kind == P_BATCHNORM) {
            e->pm[n->in[3]] = (PMap){kind, i, "running_mean", false};
            e->pm[n->in[4]] = (PMap){kind, i, "running_var", false};
        }
        if (kind == P_LINEAR || kind == P_CONV) {
            int b = only_use(e, i);
            const IrNode *bn = b >= 0 ? g->nodes[b] : NULL;
            int axis = kind == P_LINEAR ? -1 : 1;
            if (bn && bn->op == IR_OP_BIAS_ADD && bn->in[0] == i && is_param(e, bn->in[1]) &&
                e->uses[bn->in[1]] == 1 && bn->a.axis == axis) {
                e->bias_of[i] = bn->in[1];
                e->alias[b] = i;
                e->pm[bn->in[1]] = (PMap){kind, i, "bias", false};
            }
        }
    }
    /* Module names are unique: a clash gets the node id appended. */
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < i && e->mod[i][0]; j++)
            if (strcmp(e->mod[i], e->mod[j]) == 0) {
                size_t l = strlen(e->mod[i]);
                snprintf(e->mod[i] + (l < 50 ? l : 50), 14, "_%d", i);
                break;
            }
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        if (!e->need[i] || n->op != IR_OP_PARAM || e->pm[i].kind != P_RAW) continue;
        sanitize(n->name ? n->name : "param", SIZE_MAX, e->mod[i], sizeof e->mod[i]);
        e->pm[i] = (PMap){P_RAW, i, e->mod[i], false};
    }
}

static void dims(FILE *f, const IrType *t, int from)
{
    for (int d = from; d < t->rank; d++)
        fprintf(f, "%s%lld", d > from ? ", " : "", (long long)t->dim[d]);
}

static const char *ctor(PKind k)
{
    static const char *names[] = {"", "Linear", "Conv2d", "LayerNorm", "Embedding",
                                  "BatchNorm2d"};
    return names[k];
}

/* The __init__ line of op i's module. */
static void emit_module(FILE *f, const Ex *e, int i)
{
    const IrNode *n = e->g->nodes[i];
    const IrType *w = &e->g->nodes[n->in[1]]->type;
    PKind kind = e->pm[n->in[1]].kind;
    bool one_d = kind == P_BATCHNORM && n->type.rank < 4;     /* [N,C] or [N,C,L] */
    fprintf(f, "        self.%s = nn.%s(", e->mod[i], one_d ? "BatchNorm1d" : ctor(kind));
    switch (kind) {
    case P_LINEAR:
        fprintf(f, "%lld, %lld, bias=%s)\n", (long long)w->dim[0], (long long)w->dim[1],
                e->bias_of[i] >= 0 ? "True" : "False");
        break;
    case P_CONV:
        fprintf(f, "%lld, %lld, %lld, stride=%d, padding=%d, bias=%s)\n", (long long)w->dim[1],
                (long long)w->dim[0], (long long)w->dim[2], n->a.stride, n->a.padding,
                e->bias_of[i] >= 0 ? "True" : "False");
        break;
    case P_LAYERNORM:
        fprintf(f, "%lld, eps=%.9g)\n", (long long)w->dim[0], n->a.eps);
        break;
    case P_BATCHNORM:
        fprintf(f, "%lld, eps=%.9g, momentum=%.9g)\n", (long long)w->dim[0], n->a.eps,
                n->a.momentum);
        break;
    default:
        fprintf(f, "%lld, %lld)\n", (long long)w->dim[0], (long long)w->dim[1]);
        break;
    }
}

/* The Python expression of node id's value. */
static void var(FILE *f, const Ex *e, int id)
{
    if (e->g->nodes[id]->op == IR_OP_PARAM)
        fprintf(f, "self.%s", e->mod[id]);
    else
        fprintf(f, "v%d", e->alias[id]);
}

/* One forward line for node i; false for an op the export does not know. */
static bool emit_node(FILE *f, const Ex *e, int i)
{
    const IrNode *n = e->g->nodes[i];
    if (n->op == IR_OP_INPUT || n->op == IR_OP_PARAM || e->alias[i] != i)
        return true;
    fprintf(f, "        v%d = ", i);
#define X(k) var(f, e, n->in[k])
    switch (n->op) {
    case IR_OP_MATMUL:
    case IR_OP_CONV2D:
    case IR_OP_LAYERNORM:
        if (e->mod[i][0]) {
            fprintf(f, "self.%s(", e->mod[i]);
            X(0);
            fputs(")", f);
        } else if (n->op == IR_OP_MATMUL) {
            fputs("torch.matmul(", f); X(0); fputs(", ", f); X(1); fputs(")", f);
        } else if (n->op == IR_OP_CONV2D) {
            fputs("F.conv2d(", f); X(0); fputs(", ", f); X(1);
            fprintf(f, ", None, %d, %d)", n->a.stride, n->a.padding);
        } else {
            fputs("F.layer_norm(", f); X(0);
            fprintf(f, ", (%lld,), ", (long long)n->type.dim[n->type.rank - 1]);
            X(1); fputs(", ", f); X(2); fprintf(f, ", %.9g)", n->a.eps);
        }
        break;
    case IR_OP_BATCHNORM:   /* shared parameters: the functional form, evaluation mode */
        if (e->mod[i][0]) { fprintf(f, "self.%s(", e->mod[i]); X(0); fputs(")", f); break; }
        fputs("F.batch_norm(", f); X(0); fputs(", ", f); X(3); fputs(", ", f); X(4);
        fputs(", ", f); X(1); fputs(", ", f); X(2);
        fprintf(f, ", False, %.9g, %.9g)", n->a.momentum, n->a.eps);
        break;
    case IR_OP_EMBEDDING:
        if (e->mod[i][0]) { fprintf(f, "self.%s(", e->mod[i]); X(0); fputs(".long())", f); }
        else { fputs("F.embedding(", f); X(0); fputs(".long(), ", f); X(1); fputs(")", f); }
        break;
    case IR_OP_BIAS_ADD:
        X(0); fputs(" + ", f); X(1);
        if (n->a.axis == 1 && n->type.rank > 2)
            fprintf(f, ".view(1, -1%s)", n->type.rank == 4 ? ", 1, 1" : ", 1");
        break;
    case IR_OP_ADD: X(0); fputs(" + ", f); X(1); break;
    case IR_OP_SUB: X(0); fputs(" - ", f); X(1); break;
    case IR_OP_MUL: X(0); fputs(" * ", f); X(1); break;
    case IR_OP_DIV: X(0); fputs(" / ", f); X(1); break;
    case IR_OP_ADD_SCALAR: X(0); fprintf(f, " + %.9g", n->a.scalar); break;
    case IR_OP_MUL_SCALAR: X(0); fprintf(f, " * %.9g", n->a.scalar); break;
    case IR_OP_RELU: fputs("F.relu(", f); X(0); fputs(")", f); break;
    case IR_OP_LEAKY_RELU: fputs("F.leaky_relu(", f); X(0); fprintf(f, ", %.9g)", n->a.scalar); break;
    case IR_OP_GELU: fputs("F.gelu(", f); X(0); fputs(")", f); break;
    case IR_OP_TANH: fputs("torch.tanh(", f); X(0); fputs(")", f); break;
    case IR_OP_SIGMOID: fputs("torch.sigmoid(", f); X(0); fputs(")", f); break;
    case IR_OP_SOFTMAX: X(0); fputs(".softmax(-1)", f); break;
    case IR_OP_LOG_SOFTMAX: X(0); fputs(".log_softmax(-1)", f); break;
    case IR_OP_MAXPOOL:
        fputs("F.max_pool2d(", f); X(0); fprintf(f, ", %d, %d)", n->a.kernel, n->a.stride);
        break;
    case IR_OP_AVGPOOL:
        fputs("F.avg_pool2d(", f); X(0); fprintf(f, ", %d, %d)", n->a.kernel, n->a.stride);
        break;
    case IR_OP_GLOBAL_AVG_POOL: X(0); fputs(".mean(dim=(2, 3))", f); break;
    case IR_OP_FLATTEN: X(0); fputs(".flatten(1)", f); break;
    case IR_OP_RESHAPE:
        X(0); fputs(".reshape(-1, ", f); dims(f, &n->type, 1); fputs(")", f);
        break;
    case IR_OP_TRANSPOSE:
        X(0); fputs(".permute(0", f);
        for (int d = 0; d + 1 < n->type.rank; d++) fprintf(f, ", %d", n->a.perm[d] + 1);
        fputs(")", f);
        break;
    case IR_OP_CAUSAL_ATTENTION:
        fputs("causal_attention(", f); X(0); fputs(", ", f); X(1); fputs(", ", f); X(2);
        fprintf(f, ", %d)", n->a.heads);
        break;
    case IR_OP_DROPOUT: fputs("F.dropout(", f); X(0); fprintf(f, ", %.9g, self.training)", n->a.p); break;
    case IR_OP_STOP_GRADIENT: X(0); break;
    default:
        return false;
    }
#undef X
    fputc('\n', f);
    return true;
}

static const char *prologue =
    "import json\n"
    "import math\n\n"
    "import torch\n"
    "import torch.nn as nn\n"
    "import torch.nn.functional as F\n\n\n"
    "def causal_attention(q, k, v, heads):\n"
    "    \"\"\"lnet's causal_attention: q, k, v [N, T, D], heads split D.\"\"\"\n"
    "    n, t, d = q.shape\n"
    "    split = lambda z: z.view(n, t, heads, d // heads).transpose(1, 2)\n"
    "    q, k, v = split(q), split(k), split(v)\n"
    "    att = (q @ k.transpose(-1, -2)) / math.sqrt(d // heads)\n"
    "    mask = torch.triu(torch.ones(t, t, dtype=torch.bool, device=q.device), 1)\n"
    "    att = att.masked_fill(mask, float(\"-inf\")).softmax(-1)\n"
    "    return (att @ v).transpose(1, 2).reshape(n, t, d)\n\n\n"
    "def read_safetensors(path):\n"
    "    \"\"\"The tensors of a safetensors file, by name (float32 only).\"\"\"\n"
    "    with open(path, \"rb\") as f:\n"
    "        blob = f.read()\n"
    "    size = int.from_bytes(blob[:8], \"little\")\n"
    "    header = json.loads(blob[8:8 + size])\n"
    "    base, out = 8 + size, {}\n"
    "    for name, t in header.items():\n"
    "        if name == \"__metadata__\" or t[\"dtype\"] != \"F32\":\n"
    "            continue\n"
    "        lo, hi = t[\"data_offsets\"]\n"
    "        out[name] = torch.frombuffer(bytearray(blob[base + lo:base + hi]),\n"
    "                                     dtype=torch.float32).reshape(t[\"shape\"])\n"
    "    return out\n\n\n";

static bool write_torch(const Ex *e, const char *model_path, FILE *f)
{
    const IrGraph *g = e->g;
    fprintf(f, "\"\"\"PyTorch module of the lnet model '%s' (%s), written by `lnet export`.\n\n"
               "    net = load(\"CKPT\")      # an lnet checkpoint of this model\n"
               "    out = net(INPUTS)       # evaluation mode\n\"\"\"\n",
            g->model, model_path);
    fputs(prologue, f);
    /* lnet name -> (module attribute, PyTorch key, transpose) */
    fputs("# lnet parameter -> (PyTorch state_dict key, transposed)\nPARAMS = {\n", f);
    for (int i = 0; i < g->n_nodes; i++) {
        if (!e->need[i] || g->nodes[i]->op != IR_OP_PARAM) continue;
        const PMap *p = &e->pm[i];
        if (p->kind == P_RAW)
            fprintf(f, "    \"%s\": (\"%s\", False),\n", g->nodes[i]->name, p->key);
        else
            fprintf(f, "    \"%s\": (\"%s.%s\", %s),\n", g->nodes[i]->name, e->mod[p->module],
                    p->key, p->transpose ? "True" : "False");
    }
    fputs("}\n\n\n", f);
    char cls[64];
    sanitize(g->model, SIZE_MAX, cls, sizeof cls);
    fprintf(f, "class Model(nn.Module):\n    \"\"\"%s\"\"\"\n\n    def __init__(self):\n"
               "        super().__init__()\n", g->model);
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = g->nodes[i];
        if (!e->need[i]) continue;
        if (n->op == IR_OP_PARAM && e->pm[i].kind == P_RAW) {
            fprintf(f, "        self.%s = nn.Parameter(torch.zeros(", e->mod[i]);
            dims(f, &n->type, 0);
            fputs(n->type.rank == 1 ? ",))\n" : "))\n", f);
        } else if (n->op != IR_OP_PARAM && e->mod[i][0]) {
            emit_module(f, e, i);
        }
    }
    fputs("        self.eval()\n\n    def forward(self", f);
    for (int i = 0; i < g->n_nodes; i++)
        if (e->need[i] && g->nodes[i]->op == IR_OP_INPUT) {
            char nm[64];
            sanitize(g->nodes[i]->name ? g->nodes[i]->name : "x", SIZE_MAX, nm, sizeof nm);
            fprintf(f, ", %s", nm);
        }
    fputs("):\n", f);
    for (int i = 0; i < g->n_nodes; i++)
        if (e->need[i] && g->nodes[i]->op == IR_OP_INPUT) {
            char nm[64];
            sanitize(g->nodes[i]->name ? g->nodes[i]->name : "x", SIZE_MAX, nm, sizeof nm);
            fprintf(f, "        v%d = %s\n", i, nm);
        }
    for (int i = 0; i < g->n_nodes; i++)
        if (e->need[i] && !emit_node(f, e, i)) {
            const IrNode *n = g->nodes[i];
            fprintf(stderr, "lnet export: error: %s:%d:%d: op '%s' cannot be exported to PyTorch yet\n",
                    model_path, n->loc.line, n->loc.col, ir_op_info(n->op)->name);
            return false;
        }
    const IrNode *loss = g->nodes[g->loss];
    fprintf(f, "        return v%d\n\n\n", e->alias[loss->in[0]]);
    fputs("def load(path, model=None):\n"
          "    \"\"\"A Model with the parameters of the lnet checkpoint at path.\"\"\"\n"
          "    model = model or Model()\n"
          "    tensors = read_safetensors(path)\n"
          "    state = {}\n"
          "    for name, (key, transposed) in PARAMS.items():\n"
          "        if name not in tensors:\n"
          "            raise KeyError(f\"{path}: no parameter '{name}' (not a checkpoint of this model?)\")\n"
          "        t = tensors[name]\n"
          "        state[key] = t.t().contiguous() if transposed else t\n"
          "    # batch norm's num_batches_tracked is PyTorch's own counter, not lnet's\n"
          "    result = model.load_state_dict(state, strict=False)\n"
          "    missing = [k for k in result.missing_keys if not k.endswith(\"num_batches_tracked\")]\n"
          "    if missing or result.unexpected_keys:\n"
          "        raise KeyError(f\"{path}: missing {missing}, unexpected {result.unexpected_keys}\")\n"
          "    return model.eval()\n", f);
    return true;
}

/* Loads the checkpoint at path into *sf (caller-owned: st_free) and checks
 * that every parameter of the export is there, with its shape. */
static bool check_ckpt(const Ex *e, const char *path, StFile *out)
{
    StFile sf;
    char err[512];
    if (!st_load(path, &sf, err, sizeof err)) {
        fprintf(stderr, "lnet export: error: %s\n", err);
        return false;
    }
    bool ok = true;
    for (int i = 0; i < e->g->n_nodes && ok; i++) {
        const IrNode *n = e->g->nodes[i];
        if (!e->need[i] || n->op != IR_OP_PARAM) continue;
        const StTensor *t = st_find(&sf, n->name);
        if (!t) {
            fprintf(stderr, "lnet export: error: %s: no parameter '%s': not a checkpoint of model '%s'\n",
                    path, n->name, e->g->model);
            ok = false;
        } else if (t->rank != n->type.rank ||
                   memcmp(t->shape, n->type.dim, sizeof(int64_t) * (size_t)n->type.rank) != 0) {
            fprintf(stderr, "lnet export: error: %s: parameter '%s' has another shape than the model's\n",
                    path, n->name);
            ok = false;
        }
    }
    if (ok)
        *out = sf;
    else
        st_free(&sf);
    return ok;
}

/* Writes path through a temporary file renamed into place: a failed export
 * leaves no partial file (and an earlier one as it was). */
static bool write_out(const char *path, const Ex *e, const char *model_path, const StFile *ck)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        fprintf(stderr, "lnet export: error: %s: path too long\n", path);
        return false;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "lnet export: error: %s: cannot write: %s\n", tmp, strerror(errno));
        return false;
    }
    bool ok = ck ? onnx_write(f, e->g, e->need, ck, model_path) : write_torch(e, model_path, f);
    ok = (fclose(f) == 0) && ok;
    if (ok && rename(tmp, path) != 0) {
        fprintf(stderr, "lnet export: error: %s: %s\n", path, strerror(errno));
        ok = false;
    }
    if (!ok)
        remove(tmp);
    return ok;
}

int cmd_export(int argc, char **argv)
{
    CliArgs a;
    bool help;
    if (!cli_parse(&export_cmd, argc, argv, &a, &help))
        return EXIT_USER;
    if (help) {
        cli_print_help(&export_cmd, stdout);
        return EXIT_OK;
    }
    const char *out = cli_get(&export_cmd, &a, "torch");
    const char *onnx = cli_get(&export_cmd, &a, "onnx");
    const char *ck = cli_get(&export_cmd, &a, "load");
    if (!out && !onnx) {
        fprintf(stderr, "lnet export: error: say what to write: --torch OUT.py or --onnx OUT.onnx\n");
        return EXIT_USER;
    }
    if (onnx && !ck) {
        fprintf(stderr, "lnet export: error: --onnx needs the weights: --load CKPT\n");
        return EXIT_USER;
    }
    Diag d;
    Model m = {0};
    diag_init(&d);
    int rc = EXIT_USER;
    if (!model_load(a.file, &d, &m)) {
        diag_print(&d, stderr);
        goto done;
    }
    PassCtx ctx;
    model_pass_ctx(&m, &ctx, &d);
    if (!pass_run_pipeline(m.g, "shape,verify", &ctx)) {
        diag_print(&d, stderr);
        goto done;
    }
    if (m.g->loss < 0) {
        fprintf(stderr, "lnet export: error: %s: the model has no loss, so no output to export\n", a.file);
        goto done;
    }
    int N = m.g->n_nodes;
    Ex e = {.g = m.g};
    e.uses = calloc((size_t)N, sizeof *e.uses);
    e.need = calloc((size_t)N, sizeof *e.need);
    e.alias = malloc((size_t)N * sizeof *e.alias);
    e.bias_of = malloc((size_t)N * sizeof *e.bias_of);
    e.mod = calloc((size_t)N, sizeof *e.mod);
    e.pm = calloc((size_t)N, sizeof *e.pm);
    if (!e.uses || !e.need || !e.alias || !e.bias_of || !e.mod || !e.pm) {
        fprintf(stderr, "lnet export: error: out of memory\n");
        rc = EXIT_INTERNAL;
        goto free_ex;
    }
    for (int i = 0; i < N; i++) e.alias[i] = i, e.bias_of[i] = -1;
    /* The prediction's ancestors, and how often each is read among them. */
    e.need[m.g->nodes[m.g->loss]->in[0]] = true;
    for (int i = N - 1; i >= 0; i--)
        if (e.need[i])
            for (int k = 0; k < m.g->nodes[i]->n_in; k++) {
                e.need[m.g->nodes[i]->in[k]] = true;
                e.uses[m.g->nodes[i]->in[k]]++;
            }
    plan_modules(&e);
    StFile sf = {0};
    if (ck && !check_ckpt(&e, ck, &sf))
        goto free_ex;
    bool ok = (!out || write_out(out, &e, a.file, NULL)) && (!onnx || write_out(onnx, &e, a.file, &sf));
    st_free(&sf);
    if (!ok)
        goto free_ex;
    if (out)
        printf("lnet export: wrote %s (PyTorch module of '%s'%s%s)\n", out, m.g->model,
               ck ? "; checked against " : "", ck ? ck : "");
    if (onnx)
        printf("lnet export: wrote %s (ONNX opset 17 model of '%s' with the parameters of %s)\n",
               onnx, m.g->model, ck);
    rc = EXIT_OK;
free_ex:
    free(e.uses); free(e.need); free(e.alias); free(e.bias_of); free(e.mod); free(e.pm);
done:
    model_free(&m);
    diag_fini(&d);
    return rc;
}
