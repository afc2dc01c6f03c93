/* Compiled kernels for the hot loops of `nncli train` (nncli/kernels.py is their one caller).

   Why C: numpy's float32 tanh and exp run one element at a time on this kind of CPU (2.6 and
   1.3 ns an element), and a recurrent step calls them on a (32, 128) state 64 times a pass;
   the per-id sum of an embedding's gradient is a scatter-add numpy can only do as a one-hot
   matrix product (62 x 2048 x 128 multiply-adds for 2048 x 128 additions); max pooling and
   im2col are strided numpy calls on rows 4 to 8 wide, where numpy's per-row overhead is most
   of the time. The loops below are plain C that gcc and clang vectorise.

   Accuracy: tanh and sigmoid (float32 only) are within 3 units in the last place of the
   float64 results (tests/test_kernels.py checks dense grids and the special values); numpy's
   own float32 tanh is within 2. NaN stays NaN, -0.0 stays -0.0, +-inf go to their limits. A
   sigmoid below float32's smallest normal number (2^-126, about 1.2e-38) may come out as 0.
   Max pooling and im2col are exact (float32 and float64): numpy's results bit for bit.

   The module reads arrays through the buffer protocol, not numpy's C API, so it builds
   without numpy's headers; every size is checked here before anything is written. The GIL is
   released while a kernel runs. The build is optional (setup.py): without a compiler, nncli
   uses numpy for the same formulas. */

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
    const float ln2_hi = 0.693145752f, ln2_lo = 1.42860677e-6f;  /* n ln2_hi is exact */
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

/* Max pooling over size x size windows of `planes` images (h, w), no padding: y (ho, wo)
   per image, and in `winner` the offset u * size + v of each window's first maximum, as
   ops.pool2d gives them: a strictly greater value takes over, and NaN propagates to y
   (numpy's maximum) without moving the winner. Exact, so float32 and float64 results equal
   numpy's bit for bit. One function per float type, from the same text. */
/* One offset k of the window into a running maximum B and its offset A. */
#define TAKE_IF_GREATER(B, A, VALUE)                                                         \
    {                                                                                        \
        __typeof__(B) value_ = (VALUE);                                                      \
        int better_ = value_ > B;                                                            \
        A = better_ ? k : A;                                                                 \
        B = better_ || value_ != value_ ? value_ : B;                                         \
    }

/* Four windows of a row at a time, each in registers of its own: one window's compares wait
   for each other, four windows' overlap (a window at a time took 3-4x as long). */
#define MAX_POOL(NAME, T)                                                                    \
    WIDE_WHEN_AVAILABLE static void NAME(const T *x, T *y, uint8_t *winner,                  \
                                         Py_ssize_t planes, Py_ssize_t h, Py_ssize_t w,      \
                                         Py_ssize_t ho, Py_ssize_t wo, int size, int stride) \
    {                                                                                        \
        for (Py_ssize_t p = 0; p < planes; p++)                                             \
            for (Py_ssize_t i = 0; i < ho; i++) {                                           \
                const T *top = x + (p * h + i * stride) * w;                                \
                T *out = y + (p * ho + i) * wo;                                             \
                uint8_t *won = winner + (p * ho + i) * wo;                                  \
                Py_ssize_t j = 0;                                                           \
                for (; j + 4 <= wo; j += 4) {                                               \
                    const T *c = top + j * stride;                                          \
                    T b0 = c[0], b1 = c[stride], b2 = c[2 * stride], b3 = c[3 * stride];    \
                    int a0 = 0, a1 = 0, a2 = 0, a3 = 0;                                     \
                    for (int k = 1; k < size * size; k++) {                                 \
                        const T *o = c + (k / size) * w + k % size;                         \
                        TAKE_IF_GREATER(b0, a0, o[0])                                       \
                        TAKE_IF_GREATER(b1, a1, o[stride])                                  \
                        TAKE_IF_GREATER(b2, a2, o[2 * stride])                              \
                        TAKE_IF_GREATER(b3, a3, o[3 * stride])                              \
                    }                                                                       \
                    out[j] = b0, out[j + 1] = b1, out[j + 2] = b2, out[j + 3] = b3;         \
                    won[j] = (uint8_t)a0, won[j + 1] = (uint8_t)a1;                         \
                    won[j + 2] = (uint8_t)a2, won[j + 3] = (uint8_t)a3;                     \
                }                                                                           \
                for (; j < wo; j++) {                                                       \
                    const T *c = top + j * stride;                                          \
                    T b0 = c[0];                                                            \
                    int a0 = 0;                                                             \
                    for (int k = 1; k < size * size; k++)                                   \
                        TAKE_IF_GREATER(b0, a0, c[(k / size) * w + k % size])               \
                    out[j] = b0;                                                            \
                    won[j] = (uint8_t)a0;                                                   \
                }                                                                           \
            }                                                                               \
    }

/* Its gradient for windows that do not overlap (stride >= size): each window's dy goes to
   its winner's cell of dx, which starts as zeros. */
#define MAX_POOL_BACKWARD(NAME, T)                                                           \
    WIDE_WHEN_AVAILABLE static void NAME(const T *dy, const uint8_t *winner, T *dx, Py_ssize_t planes,          \
                     Py_ssize_t h, Py_ssize_t w, Py_ssize_t ho, Py_ssize_t wo, int size,    \
                     int stride)                                                             \
    {                                                                                        \
        for (Py_ssize_t p = 0; p < planes; p++)                                             \
            for (Py_ssize_t i = 0; i < ho; i++)                                             \
                for (Py_ssize_t j = 0; j < wo; j++) {                                       \
                    Py_ssize_t window = (p * ho + i) * wo + j;                              \
                    int u = winner[window] / size, v = winner[window] % size;               \
                    dx[p * h * w + (i * stride + u) * w + j * stride + v] = dy[window];    \
                }                                                                           \
    }

MAX_POOL(max_pool_float, float)
MAX_POOL(max_pool_double, double)
MAX_POOL_BACKWARD(max_pool_backward_float, float)
MAX_POOL_BACKWARD(max_pool_backward_double, double)

/* im2col for a convolution: cols (C, kh, kw, N, ho, wo) gets x (N, C, h, w) at row
   i * stride + u - padding and column j * stride + v - padding, or 0 outside the image
   (the zero padding, without building a padded copy). A copy, so exact in either type. */
#define IM2COL(NAME, T)                                                                      \
    WIDE_WHEN_AVAILABLE static void NAME(const T *x, T *cols, Py_ssize_t n, Py_ssize_t c,    \
                                         Py_ssize_t h, Py_ssize_t w, int kh, int kw,         \
                                         int stride, int padding, Py_ssize_t ho,             \
                                         Py_ssize_t wo)                                      \
    {                                                                                        \
        T *out = cols;                                                                      \
        for (Py_ssize_t ci = 0; ci < c; ci++)                                               \
            for (int u = 0; u < kh; u++)                                                    \
                for (int v = 0; v < kw; v++)                                                \
                    for (Py_ssize_t ni = 0; ni < n; ni++) {                                 \
                        const T *image = x + (ni * c + ci) * h * w;                         \
                        for (Py_ssize_t i = 0; i < ho; i++, out += wo) {                    \
                            Py_ssize_t row = i * stride + u - padding;                      \
                            if (row < 0 || row >= h) {                                      \
                                memset(out, 0, wo * sizeof(T));                             \
                                continue;                                                   \
                            }                                                               \
                            /* the columns j whose j stride + v - padding is in the     \
                               image: [first, last); zeros on either side */                \
                            Py_ssize_t first = 0, last = wo;                                \
                            while (first < wo && first * stride + v - padding < 0)          \
                                out[first++] = 0;                                           \
                            while (last > first && (last - 1) * stride + v - padding >= w)  \
                                out[--last] = 0;                                            \
                            const T *line = image + row * w;                                \
                            for (Py_ssize_t j = first; j < last; j++)                       \
                                out[j] = line[j * stride + v - padding];                    \
                        }                                                                   \
                    }                                                                       \
    }

IM2COL(im2col_float, float)
IM2COL(im2col_double, double)

/* ------------------------------------------------------------------ Python bindings */

/* The float type of a buffer: 'f' (float32) or 'd' (float64); 0 otherwise. */
static char float_type(Py_buffer *b)
{
    const char *f = b->format ? b->format : "B";
    if (f[0] == '<' || f[0] == '=' || f[0] == '@')
        f++;
    if (f[1] != '\0')
        return 0;
    if (f[0] == 'f' && b->itemsize == 4)
        return 'f';
    if (f[0] == 'd' && b->itemsize == 8)
        return 'd';
    return 0;
}

static int float32_buffer(Py_buffer *b, const char *what)
{
    if (float_type(b) != 'f') {
        PyErr_Format(PyExc_TypeError, "%s: expected float32 values", what);
        return 0;
    }
    return 1;
}

/* A C-contiguous view of obj with its item format (writable: for an output). */
static int c_buffer(PyObject *obj, Py_buffer *view, int writable)
{
    return PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT
                                             | (writable ? PyBUF_WRITABLE : 0));
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
    PyObject *ids_obj, *rows_obj, *out_obj;
    Py_buffer ids = {0}, rows = {0}, out = {0};
    Py_ssize_t width;
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "OOOn", &ids_obj, &rows_obj, &out_obj, &width))
        return NULL;
    if (c_buffer(ids_obj, &ids, 0) < 0 || c_buffer(rows_obj, &rows, 0) < 0
        || c_buffer(out_obj, &out, 1) < 0)
        goto done;
    Py_ssize_t m = ids.len / 8, vocab = width > 0 ? out.len / 4 / width : 0;
    if (ids.itemsize != 8 || strchr("lq", ids.format[strlen(ids.format) - 1]) == NULL
        || !float32_buffer(&rows, "add_rows_at rows")
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

/* max_pool(x, y, winner, planes, h, w, ho, wo, size, stride) and
   max_pool_backward(dy, winner, dx, planes, h, w, ho, wo, size, stride): C-contiguous
   buffers of one float type (kernels.py makes them); the sizes are checked here. */
static PyObject *pool_call(PyObject *args, int backward)
{
    PyObject *objects[3];                 /* forward: x, y, winner; backward: dy, winner, dx */
    Py_buffer in = {0}, second = {0}, third = {0};
    Py_ssize_t planes, h, w, ho, wo;
    int size, stride;
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "OOOnnnnnii", &objects[0], &objects[1], &objects[2], &planes,
                          &h, &w, &ho, &wo, &size, &stride))
        return NULL;
    if (c_buffer(objects[0], &in, 0) < 0 || c_buffer(objects[1], &second, !backward) < 0
        || c_buffer(objects[2], &third, 1) < 0)
        goto done;
    Py_buffer *winner = backward ? &second : &third, *out = backward ? &third : &second;
    Py_buffer *image = backward ? out : &in, *pooled = backward ? &in : out;
    char type = float_type(&in);
    Py_ssize_t item = type == 'f' ? 4 : 8, windows = planes * ho * wo;
    if (!type || float_type(out) != type || winner->itemsize != 1) {
        PyErr_SetString(PyExc_TypeError, "max_pool: expected float32 or float64 values of "
                                         "one type and uint8 winners");
        goto done;
    }
    if (size < 1 || size > 16 || stride < 1 || ho < 1 || wo < 1
        || (ho - 1) * stride + size > h || (wo - 1) * stride + size > w
        || (backward && stride < size) || winner->len != windows
        || pooled->len != windows * item || image->len != planes * h * w * item) {
        PyErr_SetString(PyExc_ValueError, "max_pool: sizes do not fit the buffers");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    if (!backward && type == 'f')
        max_pool_float(in.buf, second.buf, third.buf, planes, h, w, ho, wo, size, stride);
    else if (!backward)
        max_pool_double(in.buf, second.buf, third.buf, planes, h, w, ho, wo, size, stride);
    else if (type == 'f')
        max_pool_backward_float(in.buf, second.buf, third.buf, planes, h, w, ho, wo, size,
                                stride);
    else
        max_pool_backward_double(in.buf, second.buf, third.buf, planes, h, w, ho, wo, size,
                                 stride);
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&in);
    PyBuffer_Release(&second);
    PyBuffer_Release(&third);
    return result;
}

static PyObject *py_max_pool(PyObject *self, PyObject *args)
{
    return pool_call(args, 0);
}

static PyObject *py_max_pool_backward(PyObject *self, PyObject *args)
{
    return pool_call(args, 1);
}

/* im2col(x, cols, n, c, h, w, kh, kw, stride, padding, ho, wo). */
static PyObject *py_im2col(PyObject *self, PyObject *args)
{
    PyObject *x_obj, *cols_obj;
    Py_buffer x = {0}, cols = {0};
    Py_ssize_t n, c, h, w, ho, wo;
    int kh, kw, stride, padding;
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "OOnnnniiiinn", &x_obj, &cols_obj, &n, &c, &h, &w, &kh, &kw,
                          &stride, &padding, &ho, &wo))
        return NULL;
    if (c_buffer(x_obj, &x, 0) < 0 || c_buffer(cols_obj, &cols, 1) < 0)
        goto done;
    char type = float_type(&x);
    Py_ssize_t item = type == 'f' ? 4 : 8;
    if (!type || float_type(&cols) != type) {
        PyErr_SetString(PyExc_TypeError, "im2col: expected float32 or float64 arrays of one "
                                         "type");
        goto done;
    }
    if (n < 0 || c < 0 || kh < 1 || kw < 1 || stride < 1 || padding < 0 || ho < 0 || wo < 0
        || (ho > 0 && (ho - 1) * stride + kh > h + 2 * padding)
        || (wo > 0 && (wo - 1) * stride + kw > w + 2 * padding)
        || x.len != n * c * h * w * item || cols.len != c * kh * kw * n * ho * wo * item) {
        PyErr_SetString(PyExc_ValueError, "im2col: sizes do not fit the buffers");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    if (type == 'f')
        im2col_float(x.buf, cols.buf, n, c, h, w, kh, kw, stride, padding, ho, wo);
    else
        im2col_double(x.buf, cols.buf, n, c, h, w, kh, kw, stride, padding, ho, wo);
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&x);
    PyBuffer_Release(&cols);
    return result;
}

static PyMethodDef methods[] = {
    {"tanh", py_tanh, METH_VARARGS, "tanh(a): a = tanh(a), in place (float32)."},
    {"sigmoid_of_negated", py_sigmoid_of_negated, METH_VARARGS,
     "sigmoid_of_negated(a): a = 1 / (1 + exp(a)), in place (float32)."},
    {"add_rows_at", py_add_rows_at, METH_VARARGS,
     "add_rows_at(ids, rows, out, width): out[ids[i]] += rows[i] (int64 ids, float32 rows)."},
    {"max_pool", py_max_pool, METH_VARARGS,
     "max_pool(x, y, winner, planes, h, w, ho, wo, size, stride) (float32 or float64)."},
    {"max_pool_backward", py_max_pool_backward, METH_VARARGS,
     "max_pool_backward(dy, winner, dx, planes, h, w, ho, wo, size, stride)."},
    {"im2col", py_im2col, METH_VARARGS,
     "im2col(x, cols, n, c, h, w, kh, kw, stride, padding, ho, wo) (float32 or float64)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "nncli._kernels",
                                    "Compiled float32 kernels (see nncli/kernels.py).", -1,
                                    methods};

PyMODINIT_FUNC PyInit__kernels(void)
{
    return PyModule_Create(&module);
}
