/* Compiled float32 kernels for the hot loops of `nncli train` (nncli/kernels.py uses them).

   Why C: numpy's float32 tanh and exp run one element at a time on this kind of CPU (2.6 and
   1.3 ns an element), and a recurrent step calls them on a (32, 128) state 64 times a pass;
   the per-id sum of an embedding's gradient is a scatter-add numpy can only do as a one-hot
   matrix product (62 x 2048 x 128 multiply-adds for 2048 x 128 additions). The loops below
   are plain C that gcc/clang vectorise, with no branches inside (both sides of a choice are
   computed and one is selected).

   Accuracy: tanh and sigmoid are within 3 units in the last place of the float64 results
   (tests/test_kernels.py checks a dense grid and the special values); numpy's own float32
   tanh is within 2. NaN stays NaN, -0.0 stays -0.0, +-inf go to their limits. A sigmoid
   below float32's smallest normal number (2^-126, about 1.2e-38) may come out as 0.

   The module uses the buffer protocol, not numpy's C API, so it builds without numpy's
   headers; kernels.py passes only float32 arrays, each C-contiguous or made of
   contiguous rows. The GIL
   is released while a kernel runs. The build is optional (setup.py): without a compiler,
   nncli uses numpy for the same formulas. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* On x86-64 with gcc, each kernel is also built for x86-64-v3 (AVX2 + FMA), chosen at load
   time when the CPU has it: 8 floats a step instead of 4 (2.5-3x faster here). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && __GNUC__ >= 12
#define WIDE_WHEN_AVAILABLE __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define WIDE_WHEN_AVAILABLE
#endif

/* exp(x) for x in [-88, 0]: x = n ln2 + r with |r| <= ln2 / 2, exp(r) by its Taylor series to
   r^7 (relative error < 6e-9), times 2^n built in the exponent bits. Below about -87.3 the
   result flushes to 0 (2^n with n = -127 has all exponent bits zero). */
static inline float exp_nonpositive(float x)
{
    const float log2e = 1.44269504f;
    const float ln2_hi = 0.693145752f, ln2_lo = 1.42860677e-6f;  /* ln 2 split: n ln2_hi exact */
    const float round_magic = 12582912.0f;                       /* 1.5 * 2^23 */
    float n = (x * log2e + round_magic) - round_magic;           /* nearest whole number */
    float r = (x - n * ln2_hi) - n * ln2_lo;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

WIDE_WHEN_AVAILABLE
static void tanh_in_place(float *a, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        float x = a[i], y = fabsf(x);
        /* Large |x|: (1 - e) / (1 + e) with e = exp(-2|x|); past 10 it rounds to 1 exactly. */
        float e = exp_nonpositive(-2.0f * (y < 10.0f ? y : 10.0f));
        float large = (1.0f - e) / (1.0f + e);
        /* Small |x|: 1 - e would cancel, so the odd Taylor series to x^13 (error < 1e-9 for
           |x| < 0.3). */
        float y2 = y * y;
        float q = 21844.0f / 6081075.0f;
        q = q * y2 - 1382.0f / 155925.0f;
        q = q * y2 + 62.0f / 2835.0f;
        q = q * y2 - 17.0f / 315.0f;
        q = q * y2 + 2.0f / 15.0f;
        q = q * y2 - 1.0f / 3.0f;
        float small = y + y * y2 * q;
        float t = copysignf(y < 0.3f ? small : large, x);
        a[i] = x == x ? t : x;                                     /* NaN stays NaN */
    }
}

/* a = -x becomes sigmoid(x) = 1 / (1 + exp(a)): the gated cells fold the minus sign into
   their weights (nncli/layers/gated.py). With e = exp(-|a|) in (0, 1], the result is
   1 / (1 + e) for a <= 0 and e / (1 + e) for a > 0, so nothing overflows. */
WIDE_WHEN_AVAILABLE
static void sigmoid_of_negated_in_place(float *a, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        float x = a[i], y = fabsf(x);
        float e = exp_nonpositive(-(y < 88.0f ? y : 88.0f));
        float s = (x > 0.0f ? e : 1.0f) / (1.0f + e);
        a[i] = x == x ? s : x;
    }
}

/* out[ids[i]] += rows[i] for every row i, in row order; rows (m, k), out (vocab, k). */
WIDE_WHEN_AVAILABLE
static void add_rows_at(const int64_t *ids, const float *rows, float *out, Py_ssize_t m,
                        Py_ssize_t k)
{
    for (Py_ssize_t i = 0; i < m; i++) {
        float *target = out + ids[i] * k;
        const float *row = rows + i * k;
        for (Py_ssize_t j = 0; j < k; j++)
            target[j] += row[j];
    }
}

/* ------------------------------------------------------------------ Python bindings */

static int float32_buffer(Py_buffer *b, const char *what)
{
    if (b->itemsize != 4 || (b->format && strcmp(b->format, "f") != 0)) {
        PyErr_Format(PyExc_TypeError, "%s: expected float32 values", what);
        return 0;
    }
    return 1;
}

typedef void (*elementwise)(float *, Py_ssize_t);

/* Runs an elementwise kernel in place on a float32 array that is C-contiguous, or 2-D with
   contiguous rows (a block of columns, such as one gate of a stacked-gate step). */
static PyObject *run_in_place(PyObject *args, elementwise kernel, const char *what)
{
    PyObject *obj;
    Py_buffer b;
    if (!PyArg_ParseTuple(args, "O", &obj)
        || PyObject_GetBuffer(obj, &b, PyBUF_WRITABLE | PyBUF_FORMAT | PyBUF_STRIDES) < 0)
        return NULL;
    int whole = PyBuffer_IsContiguous(&b, 'C');
    if (!float32_buffer(&b, what)
        || (!whole && !(b.ndim == 2 && b.strides[1] == 4))) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "%s: expected a C-contiguous array, or a 2-D one "
                         "with contiguous rows", what);
        PyBuffer_Release(&b);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    if (whole)
        kernel((float *)b.buf, b.len / 4);
    else
        for (Py_ssize_t row = 0; row < b.shape[0]; row++)
            kernel((float *)((char *)b.buf + row * b.strides[0]), b.shape[1]);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&b);
    Py_RETURN_NONE;
}

static PyObject *py_tanh(PyObject *self, PyObject *args)
{
    return run_in_place(args, tanh_in_place, "tanh");
}

static PyObject *py_sigmoid_of_negated(PyObject *self, PyObject *args)
{
    return run_in_place(args, sigmoid_of_negated_in_place, "sigmoid_of_negated");
}

static PyObject *py_add_rows_at(PyObject *self, PyObject *args)
{
    Py_buffer ids, rows, out;
    Py_ssize_t width;
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "y*y*w*n", &ids, &rows, &out, &width))
        return NULL;
    Py_ssize_t m = ids.len / 8, vocab = width > 0 ? out.len / 4 / width : 0;
    if (ids.itemsize != 8 || !float32_buffer(&rows, "add_rows_at rows")
        || !float32_buffer(&out, "add_rows_at out")) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "add_rows_at: expected int64 ids");
        goto done;
    }
    if (width <= 0 || rows.len != m * width * 4 || out.len != vocab * width * 4) {
        PyErr_SetString(PyExc_ValueError, "add_rows_at: rows must be (ids, width) and out "
                                          "(vocab, width)");
        goto done;
    }
    const int64_t *id = (const int64_t *)ids.buf;
    for (Py_ssize_t i = 0; i < m; i++)       /* a bad id must never write outside `out` */
        if (id[i] < 0 || id[i] >= vocab) {
            PyErr_Format(PyExc_ValueError, "add_rows_at: id %lld is outside 0..%zd",
                         (long long)id[i], vocab - 1);
            goto done;
        }
    Py_BEGIN_ALLOW_THREADS
    add_rows_at(id, (const float *)rows.buf, (float *)out.buf, m, width);
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&ids);
    PyBuffer_Release(&rows);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"tanh", py_tanh, METH_VARARGS, "tanh(a): a = tanh(a), in place (float32)."},
    {"sigmoid_of_negated", py_sigmoid_of_negated, METH_VARARGS,
     "sigmoid_of_negated(a): a = 1 / (1 + exp(a)), in place (float32)."},
    {"add_rows_at", py_add_rows_at, METH_VARARGS,
     "add_rows_at(ids, rows, out, width): out[ids[i]] += rows[i] (int64 ids, float32 rows)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "nncli._kernels",
                                    "Compiled float32 kernels (see nncli/kernels.py).", -1,
                                    methods};

PyMODINIT_FUNC PyInit__kernels(void)
{
    return PyModule_Create(&module);
}
