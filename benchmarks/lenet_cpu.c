/* The note's CIFAR training step -- Net, cross-entropy, SGD with momentum -- as one C
 * function: the CPU counterpart of benchmarks/lenet_triton.py. See benchmarks/lenet_cpu.py
 * for why, how it is built and how it is checked.
 *
 * Shapes are the note's: x (B, 3, 32, 32) -> conv1 5x5 (6, 28, 28) -> ReLU -> 2x2 max-pool
 * (6, 14, 14) -> conv2 5x5 (16, 10, 10) -> ReLU -> pool (16, 5, 5) = 400 -> fc1 120 -> ReLU
 * -> fc2 84 -> ReLU -> fc3 10; loss = mean over the batch of -log softmax at the label.
 *
 * Arithmetic follows PyTorch's: max-pool sends the gradient to the first maximum of its
 * window (row-major); ReLU's gradient is 0 where its output is 0; SGD with momentum and
 * dampening 0: buf = momentum * buf + grad, w -= lr * buf (zero buffers at the start give
 * PyTorch's first step, buf = grad). Sums run in another order than oneDNN's and MKL's,
 * so the weights agree with PyTorch's to float32 rounding, not bit for bit.
 *
 * Layouts: every tensor contiguous, row-major, as PyTorch holds it. conv2 runs as a GEMM
 * over its input's 100 output pixels x 150 taps an image, read in place through a table of
 * each tap's offset (no im2col copy: it was 30 MB a step at batch 512, written once and
 * read twice), with its 16 output channels as the vector lanes; conv1 (6 output channels:
 * too few lanes) runs a row of 28 outputs at a time. With OpenMP, images (forward, input
 * gradients, conv2's weight gradient as one partial sum per block of 8 images) and output
 * features (conv1's weight gradient, the fc layers) are shared out between threads; one
 * thread does the same sums in the same order.
 *
 * With ``amx`` (where the CPU has AMX-BF16 tiles and the build targets them), the backward
 * pass's matrix products -- the conv and fc layers' weight and input gradients -- run as
 * GEMMs on the tiles: bfloat16 operands, float32 sums, in an order no thread count changes
 * (the conv weight gradients a partial sum per block of 8 images, added in order). The
 * forward pass, the loss, every ReLU and pool, and the SGD step are the float32 step's.
 */
#define _DEFAULT_SOURCE  /* syscall(): the AMX tiles' permission */
#include <math.h>
#include <stdint.h>
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

enum { C0 = 3, S0 = 32, C1 = 6, S1 = 28, P1 = 14, C2 = 16, S2 = 10, P2 = 5, K = 5 };
enum { T1 = C0 * K * K, T2 = C1 * K * K, F0 = C2 * P2 * P2, F1 = 120, F2 = 84, F3 = 10 };
enum { NPIX2 = S2 * S2, IMG1 = C1 * P1 * P1 };

/* images a weight gradient takes at a time: their inputs and output gradients stay in the
 * cache */
enum { BLOCK = 8 };

/* the workspace, in floats per image, then shared */
#define PER_IMAGE (IMG1 + F0 + F1 + F2 + F3 + F3 + F2 + F1 + F0 + NPIX2 * C2 \
                   + IMG1 + NPIX2 * C2 + NPIX2 / 4 + 1)
#define SHARED (T2 * C2 + BLOCK * C1 * S1 * S1)
#define PER_IMAGE_INT (IMG1 + F0)
/* conv2's weight gradient, summed per block of BLOCK images, one partial sum per block */
#define PARTIALS(batch) ((((long)(batch) + BLOCK - 1) / BLOCK) * T2 * C2)

/* conv1's weight gradient on the AMX tiles: per block, 5 tiles (kernel column kx) of 16
 * rows (kernel row ky x input channel, 15 used) x 8 columns (output channels, 6 used),
 * and the 6 biases' sums (padded to 16) */
enum { AMX_ROWS = 16, AMX_COLS = 8, AMX_PART = K * AMX_ROWS * AMX_COLS + 16 };
_Static_assert(AMX_PART % 16 == 0, "sum_partials adds the partials 16 floats at a time");
#define AMX_PARTIALS(batch) ((((long)(batch) + BLOCK - 1) / BLOCK) * AMX_PART)
/* the fc layers' gradients on the tiles, in floats (two bfloat16 a float): A, up to
 * (batch + 32) rows of 416 bfloat16 (400 inputs rounded up to 32); B, the images' pairs
 * (batch + 32 rows of 400) or a weight matrix's (up to 128 x 400); T, rows converted
 * before a transpose (batch x 128, or 120 x 416); C, the products, up to (batch + 16) x
 * 400 floats or 128 x 400 */
#define AMX_FC_A(batch) (((long)(batch) + 32) * 208)
#define AMX_FC_B(batch) (((long)(batch) + 32) * 200 + 27000)
#define AMX_FC_T(batch) ((long)(batch) * 64 + 25000)
#define AMX_FC(batch) (AMX_FC_A(batch) + AMX_FC_B(batch) + AMX_FC_T(batch) \
                       + ((long)(batch) + 16) * 400 + 51200)

/* the fc weights transposed and padded for the large batches' forward (fc_transposed) */
enum { FC_OUTER_BATCH = 32, FC_T1 = (F0 + 1) * 128, FC_T2 = (F1 + 1) * 96, FC_T3 = (F2 + 1) * 16 };

long lenet_workspace_floats(int batch) {
    return (long)batch * PER_IMAGE + SHARED + PARTIALS(batch) + AMX_PARTIALS(batch)
           + AMX_FC(batch) + FC_T1 + FC_T2 + FC_T3;
}
long lenet_workspace_ints(int batch) { return (long)batch * PER_IMAGE_INT; }

/* 16 floats, as one AVX-512 register (two AVX2 ones where the machine has no AVX-512) */
typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));
static inline v16 load16(const float *p) { return *(const v16u *)p; }
static inline void store16(float *p, v16 v) { *(v16u *)p = v; }
typedef int v16i __attribute__((vector_size(64)));
typedef int v16iu __attribute__((vector_size(64), aligned(4)));
static inline v16 splat(float v) { return (v16){0} + v; }
static inline v16 relu16(v16 v) { return (v16)((v16i)v & (v > (v16){0})); }
typedef float v8 __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));
static inline float sum16(v16 v) {  /* halves added, then quarters: a tree, not a chain */
    v8 lo, hi;
    memcpy(&lo, &v, sizeof lo);
    memcpy(&hi, (const char *)&v + sizeof lo, sizeof hi);
    v8 e = lo + hi;
    v4 a, b;
    memcpy(&a, &e, sizeof a);
    memcpy(&b, (const char *)&e + sizeof a, sizeof b);
    v4 f = a + b;
    return (f[0] + f[2]) + (f[1] + f[3]);
}

/* Built with -DLENET_PROFILE (python -m benchmarks.lenet_cpu profile), the step adds the
 * seconds each of its parts took to SECTION_SECONDS; otherwise MARK is nothing. */
#define SECTIONS 10
static const char *SECTION_NAMES[SECTIONS] = {
    "conv2 weights transposed", "conv1, conv2 forward (+ReLU, pool)", "fc forward",
    "loss", "fc backward + their SGD", "through pool2", "conv2 weight grad", "conv2 input grad",
    "conv1 weight grad", "SGD"};
const char *lenet_section_name(int i) { return i >= 0 && i < SECTIONS ? SECTION_NAMES[i] : ""; }
#ifdef LENET_PROFILE
#include <time.h>
static double SECTION_SECONDS[SECTIONS];
static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
#define MARK(i) do { double t_ = seconds(); SECTION_SECONDS[i] += t_ - t_mark; t_mark = t_; } while (0)
#define MARK_START double t_mark = seconds()
double lenet_section_seconds(int i) { return SECTION_SECONDS[i]; }
#else
#define MARK(i) do { } while (0)
#define MARK_START do { } while (0)
double lenet_section_seconds(int i) { (void)i; return -1.0; }
#endif

static inline float relu(float v) { return v > 0.0f ? v : 0.0f; }

/* a 2x2 window's maximum (of ReLU outputs) and where it is, 0..3 row-major, first max */
static inline float pool4(float a, float b, float c, float d, int *where) {
    float m = a;
    int w = 0;
    if (b > m) { m = b; w = 1; }
    if (c > m) { m = c; w = 2; }
    if (d > m) { m = d; w = 3; }
    *where = w;
    return m;
}

/* pool4 lane by lane: 16 windows' maxima (first maximum wins) and their places, 0..3 */
static inline void pool4_lanes(const v16 win[4], v16 *max, v16i *where) {
    v16 m = win[0];
    v16i w = {0};
    for (int k = 1; k < 4; k++) {
        const v16i more = win[k] > m;
        m = (v16)(((v16i)win[k] & more) | ((v16i)m & ~more));
        w = (((v16i){0} + k) & more) | (w & ~more);
    }
    *max = m;
    *where = w;
}

static void sgd(float *restrict w, float *restrict buf, const float *restrict g, int n, float lr,
                float momentum) {
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const v16 m = momentum * load16(buf + i) + load16(g + i);
        store16(buf + i, m);
        store16(w + i, load16(w + i) - lr * m);
    }
    for (; i < n; i++) {
        buf[i] = momentum * buf[i] + g[i];
        w[i] -= lr * buf[i];
    }
}

/* conv1 + bias + ReLU + pool of one image: p (6, 14, 14) and the argmax of each window.
 * A row pair of all six output channels at a time: 24 registers (6 channels x 2 rows x
 * the 16-wide chunks [0, 16) and [12, 28) of the 28 outputs; the 4 in both are the same
 * sums in the same order), each input load shared by the six channels. */
static void conv1_forward(const float *x, const float *w, const float *bias, float *p, int *idx) {
    for (int r = 0; r < P1; r++) {
        v16 a[C1][2][2];
        for (int oc = 0; oc < C1; oc++)
            for (int i = 0; i < 2; i++) a[oc][i][0] = a[oc][i][1] = splat(bias[oc]);
        for (int ic = 0; ic < C0; ic++)
            for (int ky = 0; ky < K; ky++) {
                const float *r0 = x + (ic * S0 + 2 * r + ky) * S0, *r1 = r0 + S0;
                for (int kx = 0; kx < K; kx++) {
                    const v16 x00 = load16(r0 + kx), x01 = load16(r0 + kx + 12);
                    const v16 x10 = load16(r1 + kx), x11 = load16(r1 + kx + 12);
                    for (int oc = 0; oc < C1; oc++) {
                        const float c = w[((oc * C0 + ic) * K + ky) * K + kx];
                        a[oc][0][0] += c * x00;
                        a[oc][0][1] += c * x01;
                        a[oc][1][0] += c * x10;
                        a[oc][1][1] += c * x11;
                    }
                }
            }
        /* ReLU and the 2x2 max-pool a row pair at a time, 14 windows in the lanes: the
         * windows' four values (row 0 and row 1, even and odd columns) gathered from the
         * chunks [0, 16) and [12, 28) (column c at lane c of the first, c + 4 of the two
         * together), then pool4's comparisons lane by lane: the first maximum wins */
        const v16i even = {0, 2, 4, 6, 8, 10, 12, 14, 20, 22, 24, 26, 28, 30, 0, 0};
        const v16i odd = {1, 3, 5, 7, 9, 11, 13, 15, 21, 23, 25, 27, 29, 31, 1, 1};
        for (int oc = 0; oc < C1; oc++) {
            const v16 r0a = relu16(a[oc][0][0]), r0b = relu16(a[oc][0][1]);
            const v16 r1a = relu16(a[oc][1][0]), r1b = relu16(a[oc][1][1]);
            const v16 win[4] = {__builtin_shuffle(r0a, r0b, even), __builtin_shuffle(r0a, r0b, odd),
                                __builtin_shuffle(r1a, r1b, even), __builtin_shuffle(r1a, r1b, odd)};
            v16 m;
            v16i w;
            pool4_lanes(win, &m, &w);
            float mv[16];
            int wv[16];
            store16(mv, m);
            memcpy(wv, &w, sizeof wv);
            memcpy(p + (oc * P1 + r) * P1, mv, P1 * sizeof(float));
            memcpy(idx + (oc * P1 + r) * P1, wv, P1 * sizeof(int));
        }
    }
}

/* Where each of conv2's taps, (ic, ky, kx) as conv2.weight holds them, reads conv1's
 * pooled output p1 (6, 14, 14) for the output pixel (0, 0): pixel (y, x) reads at
 * y * P1 + x further on. */
static int TAP2[T2];
static void tap_offsets(void) {
    for (int ic = 0; ic < C1; ic++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) TAP2[(ic * K + ky) * K + kx] = (ic * P1 + ky) * P1 + kx;
}

/* conv2 + bias + ReLU + pool of one image from p1: p2 (400, flattened as view(-1, 16 * 5
 * * 5) does: channel, row, column) and the argmax of each window */
static void conv2_forward(const float *p1, const float *wt, const float *bias, float *p2, int *idx) {
    float z[NPIX2][C2];
    const v16 b16 = load16(bias);
    /* ten pixels (a row) share each weight load: ten independent sums, enough to keep
     * both FMA units busy through their four-cycle latency (four sums left them half idle) */
    for (int px = 0; px < NPIX2; px += S2) {
        v16 a[S2];
        for (int i = 0; i < S2; i++) a[i] = b16;
        for (int t = 0; t < T2; t++) {
            const v16 wv = load16(wt + t * C2);
            const float *c = p1 + (px / S2) * P1 + TAP2[t];  /* the row's ten pixels, in a row */
            for (int i = 0; i < S2; i++) a[i] += c[i] * wv;
        }
        for (int i = 0; i < S2; i++) store16(z[px + i], relu16(a[i]));
    }
#ifdef __AVX512F__
    /* the 2x2 max-pool with the 16 channels as lanes, pool4's comparisons lane by lane (the
     * first maximum wins), each window's 16 maxima and places scattered to channel-major
     * p2 (a stride of 25): a window at a time per channel had cost a quarter of conv2 */
    const __m512i stride = _mm512_mullo_epi32(
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
        _mm512_set1_epi32(P2 * P2));
    for (int r = 0; r < P2; r++)
        for (int q = 0; q < P2; q++) {
            const int top = (2 * r) * S2 + 2 * q;
            const v16 win[4] = {load16(z[top]), load16(z[top + 1]), load16(z[top + S2]),
                                load16(z[top + S2 + 1])};
            v16 m;
            v16i w;
            pool4_lanes(win, &m, &w);
            _mm512_i32scatter_ps(p2 + r * P2 + q, stride, (__m512)m, 4);
            _mm512_i32scatter_epi32(idx + r * P2 + q, stride, (__m512i)w, 4);
        }
#else
    for (int o = 0; o < C2; o++)
        for (int r = 0; r < P2; r++)
            for (int q = 0; q < P2; q++) {
                int k = (o * P2 + r) * P2 + q, top = (2 * r) * S2 + 2 * q;
                p2[k] = pool4(z[top][o], z[top + 1][o], z[top + S2][o], z[top + S2 + 1][o], &idx[k]);
            }
#endif
}

/* sum_i w[i] x[i] as 16 partial sums (and the tail), then added up */
static inline float dot(const float *w, const float *x, int n) {
    v16 acc = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16) acc += load16(w + i) * load16(x + i);
    float s = sum16(acc);
    for (; i < n; i++) s += w[i] * x[i];
    return s;
}

/* y += a x over n floats */
static inline void axpy(float *y, float a, const float *x, int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16) store16(y + i, load16(y + i) + a * load16(x + i));
    for (; i < n; i++) y[i] += a * x[i];
}

/* out[b][o] = bias[o] + sum_i w[o][i] in[b][i] (optionally ReLU), for a batch of rows */
static void linear_forward(const float *in, const float *w, const float *bias, float *out,
                           int batch, int n_in, int n_out, int with_relu) {
    const int groups = (batch + 3) / 4;
#pragma omp parallel for schedule(static) if (batch >= 64)
    for (int gi = 0; gi < groups; gi++) {
        const int b0 = 4 * gi, rows = batch - b0 < 4 ? batch - b0 : 4;
        if (rows < 4) {  /* the batch's last rows, one at a time */
            for (int o = 0; o < n_out; o++)
                for (int b = b0; b < batch; b++) {
                    float s = dot(w + (long)o * n_in, in + (long)b * n_in, n_in) + bias[o];
                    out[(long)b * n_out + o] = with_relu ? relu(s) : s;
                }
            continue;
        }
        const float *x0 = in + (long)b0 * n_in, *x1 = x0 + n_in, *x2 = x1 + n_in,
                    *x3 = x2 + n_in;
        for (int o0 = 0; o0 < n_out; o0 += 2) {  /* two outputs: eight sums in flight */
            const int outs = n_out - o0 < 2 ? n_out - o0 : 2;
            v16 a[2][4] = {{{0}}};
            int i = 0;
            for (; i + 16 <= n_in; i += 16) {
                const v16 v0 = load16(x0 + i), v1 = load16(x1 + i), v2 = load16(x2 + i),
                          v3 = load16(x3 + i);
                for (int j = 0; j < outs; j++) {
                    const v16 wv = load16(w + (long)(o0 + j) * n_in + i);
                    a[j][0] += wv * v0;
                    a[j][1] += wv * v1;
                    a[j][2] += wv * v2;
                    a[j][3] += wv * v3;
                }
            }
            for (int j = 0; j < outs; j++) {
                const int o = o0 + j;
                const float *wo = w + (long)o * n_in;
                float s[4] = {sum16(a[j][0]), sum16(a[j][1]), sum16(a[j][2]), sum16(a[j][3])};
                for (int t = i; t < n_in; t++) {
                    s[0] += wo[t] * x0[t];
                    s[1] += wo[t] * x1[t];
                    s[2] += wo[t] * x2[t];
                    s[3] += wo[t] * x3[t];
                }
                for (int k = 0; k < 4; k++) {
                    const float v = s[k] + bias[o];
                    out[(long)(b0 + k) * n_out + o] = with_relu ? relu(v) : v;
                }
            }
        }
    }
}

/* The fc forward at large batches, as an outer product rather than dot products: the
 * weights transposed and padded to whole vectors (wt[i][o], ``ldw`` floats a row, bias
 * padded alike), R rows x V vectors of 16 outputs summed in registers over i in order,
 * each weight vector loaded once for R rows and each input broadcast once for V vectors
 * (the dot products' horizontal sums and their weight reloads from L2 made them a quarter
 * of the FMA units' rate). Each output's sum runs over i in order whatever the thread
 * count: the bits do not depend on it. */
static inline __attribute__((always_inline)) void fc_tile(float *out, const float *in,
                                                          const float *wt, const float *bias,
                                                          int n_in, int n_out, int ldw, int o0,
                                                          int R, int V, int with_relu) {
    v16 a[8][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) a[r][v] = (v16){0};
    for (int i = 0; i < n_in; i++) {
        v16 w[4];
        for (int v = 0; v < V; v++) w[v] = load16(wt + (long)i * ldw + o0 + 16 * v);
        for (int r = 0; r < R; r++) {
            const float xv = in[(long)r * n_in + i];
            for (int v = 0; v < V; v++) a[r][v] += xv * w[v];
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) {
            const int o = o0 + 16 * v, n = n_out - o < 16 ? n_out - o : 16;
            if (n <= 0) break;
            v16 s = a[r][v] + load16(bias + o);
            if (with_relu) s = relu16(s);
            float t[16];
            store16(t, s);
            memcpy(out + (long)r * n_out + o, t, n * sizeof(float));
        }
}

/* wt (n_in x ldw) and bt (ldw) from w (n_out x n_in) and bias, zero past n_out */
static void fc_transposed(float *wt, float *bt, const float *w, const float *bias, int n_in,
                          int n_out, int ldw) {
    memset(bt, 0, ldw * sizeof(float));
    memcpy(bt, bias, n_out * sizeof(float));
    for (int i = 0; i < n_in; i++) {
        float *row = wt + (long)i * ldw;
        for (int o = 0; o < n_out; o++) row[o] = w[(long)o * n_in + i];
        for (int o = n_out; o < ldw; o++) row[o] = 0.0f;
    }
}

/* rows of ``R`` at a time (the batch's last rows one by one), ``V`` vectors of outputs at
 * a time over the ``ldw / 16`` of them */
#define FC_ROWS(R, V)                                                                           \
    static void fc_rows_##R##_##V(const float *in, const float *wt, const float *bias,        \
                                  float *out, int batch, int n_in, int n_out, int ldw,        \
                                  int with_relu) {                                            \
        const int groups = batch / R, nv = ldw / 16;                                          \
        _Pragma("omp parallel for schedule(static)")                                          \
        for (int g = 0; g <= groups; g++) {                                                   \
            const int b0 = g * R;                                                             \
            for (int o0 = 0; o0 < 16 * nv; o0 += 16 * V) {                                   \
                if (g < groups)                                                               \
                    fc_tile(out + (long)b0 * n_out, in + (long)b0 * n_in, wt, bias, n_in,      \
                            n_out, ldw, o0, R, V, with_relu);                                 \
                else                                                                          \
                    for (int b = b0; b < batch; b++)                                          \
                        fc_tile(out + (long)b * n_out, in + (long)b * n_in, wt, bias, n_in,   \
                                n_out, ldw, o0, 1, V, with_relu);                             \
            }                                                                                 \
        }                                                                                     \
    }
FC_ROWS(6, 4)  /* fc1: 128 outputs, 2 x 4 vectors; 24 sums in flight */
FC_ROWS(8, 3)  /* fc2: 96 outputs, 2 x 3 vectors */
FC_ROWS(8, 1)  /* fc3: 16 outputs, 1 vector */

/* A linear layer's backward and its SGD step: din[b][i] = sum_o dz[b][o] w[o][i] (with the
 * weights before the update; then, optionally, through the ReLU whose output is ``act``);
 * then, a row of w at a time, its gradient sum_b dz[b][o] in[b][i] (and the bias's) and
 * the update of that row and its momentum buffer, while the row is in the cache. */
static void linear_backward_sgd(const float *in, float *w, float *bias, float *wbuf, float *bbuf,
                                const float *dz, float *din, const float *act, int batch,
                                int n_in, int n_out, float lr, float momentum) {
    if (din) {
#pragma omp parallel for schedule(static) if (batch >= 64)
        for (int b = 0; b < batch; b++) {
            float *db = din + (long)b * n_in;
            memset(db, 0, n_in * sizeof(float));
            for (int o = 0; o < n_out; o++) {
                const float d = dz[(long)b * n_out + o];
                if (d == 0.0f) continue;
                axpy(db, d, w + (long)o * n_in, n_in);
            }
            if (act)
                for (int i = 0; i < n_in; i++)
                    if (!(act[(long)b * n_in + i] > 0.0f)) db[i] = 0.0f;
        }
    }
#pragma omp parallel for schedule(static) if (batch >= 64)
    for (int o = 0; o < n_out; o++) {
        float g[F0];  /* n_in <= 400 */
        memset(g, 0, n_in * sizeof(float));
        float s = 0.0f;
        for (int b = 0; b < batch; b++) {
            const float d = dz[(long)b * n_out + o];
            s += d;
            if (d == 0.0f) continue;
            axpy(g, d, in + (long)b * n_in, n_in);
        }
        sgd(w + (long)o * n_in, wbuf + (long)o * n_in, g, n_in, lr, momentum);
        sgd(bias + o, bbuf + o, &s, 1, lr, momentum);
    }
}

/* back through pool2 (and conv2's ReLU) to conv2's output for image b, as [channel][pixel]
 * (dzc) and as [pixel][channel] (dzp), with which pixels have any gradient at all (live);
 * each image writes only its own rows */
static void pool2_backward(long b, const float *p2, const float *dp2, const int *idx2,
                           float *dzc, float *dzp, unsigned char *live) {
    float *zc = dzc + b * NPIX2 * C2, *zp = dzp + b * NPIX2 * C2;
    memset(zc, 0, NPIX2 * C2 * sizeof(float));
    memset(zp, 0, NPIX2 * C2 * sizeof(float));
    p2 += b * F0, dp2 += b * F0, idx2 += b * F0;
#ifdef __AVX512F__
    /* a channel's 25 windows as lanes (16, then 9): each live window's gradient scattered
     * to its maximum's place in both layouts, and a 1 to that pixel's ``live``; a loop
     * window by window spent ~25 instructions on each, a third of the backward's time */
    int on_px[NPIX2 + 12] = {0};
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for (int o = 0; o < C2; o++)
        for (int j0 = 0; j0 < P2 * P2; j0 += 16) {
            const __mmask16 m = j0 ? 0x1ff : 0xffff;
            const int k = o * P2 * P2 + j0;
            const __m512i j = _mm512_add_epi32(lane, _mm512_set1_epi32(j0));
            const __m512i r = _mm512_srli_epi32(_mm512_mullo_epi32(j, _mm512_set1_epi32(13)), 6);
            const __m512i q = _mm512_sub_epi32(j, _mm512_mullo_epi32(r, _mm512_set1_epi32(P2)));
            const __m512i d = _mm512_maskz_loadu_epi32(m, idx2 + k);
            const __m512i y = _mm512_add_epi32(_mm512_add_epi32(r, r), _mm512_srli_epi32(d, 1));
            const __m512i xx = _mm512_add_epi32(_mm512_add_epi32(q, q),
                                                _mm512_and_si512(d, _mm512_set1_epi32(1)));
            const __m512i px = _mm512_add_epi32(_mm512_mullo_epi32(y, _mm512_set1_epi32(S2)), xx);
            const __mmask16 on = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, p2 + k),
                                                         _mm512_setzero_ps(), _CMP_GT_OQ);
            const __m512 g = _mm512_maskz_loadu_ps(m, dp2 + k);
            _mm512_mask_i32scatter_ps(zc + o * NPIX2, on, px, g, 4);
            _mm512_mask_i32scatter_ps(zp + o, on, _mm512_slli_epi32(px, 4), g, 4);
            _mm512_mask_i32scatter_epi32(on_px, on, px, _mm512_set1_epi32(1), 4);
        }
    for (int i = 0; i < NPIX2; i += 16)  /* the ints as bytes (4 of the last 16 past: dropped) */
        _mm_mask_storeu_epi8(live + b * NPIX2 + i, i + 16 <= NPIX2 ? 0xffff : 0xf,
                             _mm512_cvtepi32_epi8(_mm512_loadu_si512(on_px + i)));
#else
    memset(live + b * NPIX2, 0, NPIX2);
    for (int k = 0; k < F0; k++) {
        if (!(p2[k] > 0.0f)) continue;
        const int o = k / (P2 * P2), r = (k / P2) % P2, q = k % P2, d = idx2[k];
        const int px = (2 * r + d / 2) * S2 + 2 * q + d % 2;
        zc[o * NPIX2 + px] = zp[px * C2 + o] = dp2[k];
        live[b * NPIX2 + px] = 1;
    }
#endif
}

/* conv1's output gradient for one image, into ``dz`` (zeroed by the caller): each 2 x 2
 * window's pooled gradient (0 where the pooled value is not positive: the ReLU) to the
 * place of its maximum, (2r + d / 2, 2q + d % 2). A row of 14 windows at a time, without
 * a branch: one window in two is live, and a branch on it was mispredicted half the time. */
static void conv1_output_gradient(float *dz, const float *pb, const float *dp, const int *ib) {
    const v16i lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    for (int o = 0; o < C1; o++)
        for (int r = 0; r < P1; r++) {
            const int k = (o * P1 + r) * P1;  /* lanes 14 and 15 read on, and are dropped */
            const v16i at = *(const v16iu *)(ib + k);
            float value[16];
            int where[16];
            store16(value, (v16)((v16i)load16(dp + k) & (load16(pb + k) > (v16){0})));
            *(v16iu *)where = (o * S1 + 2 * r + (at >> 1)) * S1 + 2 * lane + (at & 1);
            for (int q = 0; q < P1; q++) dz[where[q]] = value[q];
        }
}

/* conv1's weight gradient for one (oc, ic) and ``nky`` kernel rows from ``ky0``, over the
 * images [b0, b1) of the block (their output gradients laid out in dz0): 5 * nky sums, one
 * per tap, each a 16-wide partial sum over the 28 x 28 outputs as the chunks [0, 16) and
 * [12, 28) (the 4 in both counted once). Three kernel rows at most, so that the sums stay
 * in registers (all 25 at once spilled to the stack on every multiply-add). */
static inline __attribute__((always_inline)) void conv1_weight_rows(
    v16 *sums, int ky0, const int nky, long b0, long b1, const float *dz0, const float *x, int o,
    int ic) {
    const v16 upper = {0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};  /* lanes 16..27 of [12, 28) */
    v16 acc[3 * K];
    for (int t = 0; t < nky * K; t++) acc[t] = sums[t];
    for (long b = b0; b < b1; b++) {
        const float *dz = dz0 + ((b - b0) * C1 + o) * S1 * S1;
        const float *xi = x + (b * C0 + ic) * S0 * S0;
        for (int yy = 0; yy < S1; yy++) {
            const v16 lo = load16(dz + yy * S1), hi = load16(dz + yy * S1 + 12) * upper;
            for (int k = 0; k < nky; k++) {
                const float *xr = xi + (yy + ky0 + k) * S0;
                for (int kx = 0; kx < K; kx++) {
                    acc[k * K + kx] += lo * load16(xr + kx);
                    acc[k * K + kx] += hi * load16(xr + 12 + kx);
                }
            }
        }
    }
    for (int t = 0; t < nky * K; t++) sums[t] = acc[t];
}

#ifdef __AVX512F__
/* x[r][k .. k + 15] from the row's two aligned halves A = [0, 16) and B = [16, 32) */
#define SHIFTED(A, B, k) ((v16)_mm512_alignr_epi32((__m512i)(B), (__m512i)(A), (k)))

/* conv1's weight gradient for kernel row ky and the output channels o0, o0 + 1, over one
 * input channel and the images [b0, b1): each input row is loaded once as its two
 * aligned halves, its ten shifted views (taps kx, chunks [0, 16) and [12, 28)) made by
 * lane shifts and shared by the two channels. The same sums in the same order as
 * conv1_weight_rows: each tap's, over the images and rows in order, lo then hi. */
static void conv1_weight_pair(v16 *s0, v16 *s1, int ky, long b0, long b1, const float *dz0,
                              const float *x, int o0, int ic) {
    const v16 upper = {0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    v16 a0 = s0[0], a1 = s0[1], a2 = s0[2], a3 = s0[3], a4 = s0[4];
    v16 c0 = s1[0], c1 = s1[1], c2 = s1[2], c3 = s1[3], c4 = s1[4];
    for (long b = b0; b < b1; b++) {
        const float *d0 = dz0 + ((b - b0) * C1 + o0) * S1 * S1, *d1 = d0 + S1 * S1;
        const float *xi = x + (b * C0 + ic) * S0 * S0;
        for (int yy = 0; yy < S1; yy++) {
            const float *xr = xi + (yy + ky) * S0;
            const v16 A = load16(xr), B = load16(xr + 16);
            const v16 x0 = A, x1 = SHIFTED(A, B, 1), x2 = SHIFTED(A, B, 2), x3 = SHIFTED(A, B, 3),
                      x4 = SHIFTED(A, B, 4);
            const v16 y0 = SHIFTED(A, B, 12), y1 = SHIFTED(A, B, 13), y2 = SHIFTED(A, B, 14),
                      y3 = SHIFTED(A, B, 15), y4 = B;
            const v16 l0 = load16(d0 + yy * S1), h0 = load16(d0 + yy * S1 + 12) * upper;
            const v16 l1 = load16(d1 + yy * S1), h1 = load16(d1 + yy * S1 + 12) * upper;
            a0 += l0 * x0; a0 += h0 * y0; c0 += l1 * x0; c0 += h1 * y0;
            a1 += l0 * x1; a1 += h0 * y1; c1 += l1 * x1; c1 += h1 * y1;
            a2 += l0 * x2; a2 += h0 * y2; c2 += l1 * x2; c2 += h1 * y2;
            a3 += l0 * x3; a3 += h0 * y3; c3 += l1 * x3; c3 += h1 * y3;
            a4 += l0 * x4; a4 += h0 * y4; c4 += l1 * x4; c4 += h1 * y4;
        }
    }
    s0[0] = a0, s0[1] = a1, s0[2] = a2, s0[3] = a3, s0[4] = a4;
    s1[0] = c0, s1[1] = c1, s1[2] = c2, s1[3] = c3, s1[4] = c4;
}
#endif

/* conv1's weight-gradient tasks a block of images is cut into */
#ifdef __AVX512F__
#define CONV1_TASKS (C0 * K * C1 / 2)
#else
#define CONV1_TASKS (2 * C1 * C0)
#endif

#ifdef __AVX512F__
/* conv2's input gradient for one input channel from its 25 taps' 100 pixel sums
 * (dct[ky * 5 + kx][px], rows of ``ld``): each row of p1's gradient summed in a register
 * over the taps that reach it, in the taps' order, a tap's 10 pixels landing at lanes
 * kx..kx + 9 by a masked load; the same sums, in the same order, as adding each tap's rows
 * in turn into a zeroed p1 */
static void col2im_channel(float *dp, const float *dct, int ld) {
    for (int r = 0; r < P1; r++) {
        __m512 acc = _mm512_setzero_ps();
        for (int ky = 0; ky < K; ky++) {
            const int y = r - ky;
            if (y < 0 || y >= S2) continue;
            for (int kx = 0; kx < K; kx++) {
                const float *src = dct + (ky * K + kx) * ld + y * S2 - kx;
                acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps((__mmask16)(0x3ff << kx), src));
            }
        }
        _mm512_mask_storeu_ps(dp + r * P1, 0x3fff, acc);
    }
}
#endif

#if defined(__AMX_TILE__) && defined(__AMX_BF16__) && defined(__AVX512BF16__)
#include <sys/syscall.h>
#include <unistd.h>
#define HAVE_AMX 1
/* 1 where the backward products can run on the AMX tiles: compiled for them, and the
 * kernel lets this process use them (Linux asks each process to request the tile data) */
int lenet_amx_ready(void) {
    static int ready = -1;
    if (ready < 0) ready = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */,
                                   18 /* XFEATURE_XTILEDATA */) == 0;
    return ready;
}

/* the tiles' shapes, as _tile_loadconfig reads them (palette 1) */
typedef struct {
    uint8_t palette, start;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg;

/* tiles 0-2 as 16 rows of 64 bytes: a GEMM's sum, its A and its B */
static void tiles_square(void) {
    tilecfg cfg = {0};
    cfg.palette = 1;
    for (int t = 0; t < 3; t++) cfg.rows[t] = 16, cfg.colsb[t] = 64;
    _tile_loadconfig(&cfg);
}

/* two rows of 16 floats, a and b, as the tiles' B layout takes a pair of k: bfloat16
 * a[0], b[0], a[1], b[1], ... (32 values, 64 bytes) */
static inline __m512i bf16_pairs(__m512 a, __m512 b) {
    const __m512i zip = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9,
                                         24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1,
                                         16, 0);
    return _mm512_permutexvar_epi16(zip, (__m512i)_mm512_cvtne2ps_pbh(b, a));
}

/* 8 rows of 16 ints (a[row][column]) stored as 16 rows of 8 (out[column][row]): 512
 * aligned bytes */
static inline void transpose_8x16(const __m512i a[8], __m512i *out) {
    __m512i t[8], u[8];
    for (int i = 0; i < 4; i++) {  /* within each 128-bit lane: pairs of rows interleaved */
        t[2 * i] = _mm512_unpacklo_epi32(a[2 * i], a[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(a[2 * i], a[2 * i + 1]);
    }
    for (int h = 0; h < 2; h++) {  /* rows 4h..4h+3 of columns 4L + j, j = 0..3, in u[4h + j] */
        u[4 * h + 0] = _mm512_unpacklo_epi64(t[4 * h], t[4 * h + 2]);
        u[4 * h + 1] = _mm512_unpackhi_epi64(t[4 * h], t[4 * h + 2]);
        u[4 * h + 2] = _mm512_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]);
        u[4 * h + 3] = _mm512_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]);
    }
    const __m512i even = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
    const __m512i odd = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    for (int j = 0; j < 4; j += 2) {  /* columns 4L + j and 4L + j + 1, L = 0..3 */
        const __m512i c0 = _mm512_permutex2var_epi64(u[j], even, u[4 + j]);
        const __m512i c1 = _mm512_permutex2var_epi64(u[j], odd, u[4 + j]);
        const __m512i d0 = _mm512_permutex2var_epi64(u[j + 1], even, u[5 + j]);
        const __m512i d1 = _mm512_permutex2var_epi64(u[j + 1], odd, u[5 + j]);
        /* out[k] holds columns 2k and 2k + 1 */
        _mm512_store_si512(out + j / 2 + 0, _mm512_shuffle_i32x4(c0, d0, 0x44));
        _mm512_store_si512(out + j / 2 + 2, _mm512_shuffle_i32x4(c0, d0, 0xee));
        _mm512_store_si512(out + j / 2 + 4, _mm512_shuffle_i32x4(c1, d1, 0x44));
        _mm512_store_si512(out + j / 2 + 6, _mm512_shuffle_i32x4(c1, d1, 0xee));
    }
}

/* conv1's weight-gradient tiles: 0-4 the sums (16 x 8 floats), 5 an input tile (16 rows
 * x 32 bfloat16), 6 and 7 two rows' output-gradient tiles (16 pairs of positions x 8
 * channels x 2) */
static void conv1_weight_tiles_on(void) {
    tilecfg cfg = {0};
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.rows[t] = 16;
    for (int t = 0; t < 5; t++) cfg.colsb[t] = AMX_COLS * 4;
    cfg.colsb[5] = 64;
    cfg.colsb[6] = cfg.colsb[7] = AMX_COLS * 4;
    _tile_loadconfig(&cfg);
}

/* conv1's weight and bias gradients for the images [b0, b1), on the tiles, added into
 * ``part`` (zeroed by the caller). As GEMMs over the 28 positions of each output row:
 * dW[kx] (rows ky * 3 + c, columns oc) += X[kx] (16 x 32) . dZ (32 x 8), where row
 * ky * 3 + c of X[kx] is the input row y + ky of channel c from column kx on: with each
 * image's rows laid out as [row][channel][32], those rows lie 64 bytes apart, so one tile
 * load takes them. dZ is the output gradient of row y, its 28 positions in pairs
 * (the tiles' bfloat16 layout), zero at positions 28-31 and in channels 6-7. */
static void conv1_weight_amx(float *part, long b0, long b1, const float *x, const float *p1,
                             const float *dp1, const int *idx1) {
    enum { XROWS = (S0 + 2) * C0 * 32 };  /* a shifted copy: 34 rows x 3 channels x 32 */
    uint16_t xb[K * XROWS] __attribute__((aligned(64)));
    uint16_t dzb[S1 * 16 * AMX_COLS * 2] __attribute__((aligned(64)));
    float *bias = part + K * AMX_ROWS * AMX_COLS;
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3); _tile_zero(4);
    for (int kx = 0; kx < K; kx++)  /* rows 32, 33: read, times 0 */
        memset(xb + kx * XROWS + S0 * C0 * 32, 0, 2 * C0 * 32 * sizeof(uint16_t));
    for (long b = b0; b < b1; b++) {
        /* five copies, row r of channel c from column kx on in copy kx (zero past column
         * 31): a tile load of 64-byte-aligned rows costs half one of rows that straddle
         * cache lines, and 140 of them an image had left this the backward's slowest part.
         * Each row converted once and shifted in registers, zeros coming in. */
        const float *xi = x + b * C0 * S0 * S0;
        const __m512i column = _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19,
                                              18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5,
                                              4, 3, 2, 1, 0);
        for (int r = 0; r < S0; r++)
            for (int c = 0; c < C0; c++) {
                const float *src = xi + (c * S0 + r) * S0;
                const __m512i v = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + 16),
                                                               _mm512_loadu_ps(src));
                uint16_t *dst = xb + (r * C0 + c) * 32;
                _mm512_store_si512((__m512i *)dst, v);
                for (int kx = 1; kx < K; kx++)
                    _mm512_store_si512((__m512i *)(dst + kx * XROWS),
                                       _mm512_permutex2var_epi16(v, _mm512_add_epi16(column, _mm512_set1_epi16(kx)),
                                                                 _mm512_setzero_si512()));
            }
        const float *pb = p1 + b * IMG1, *dp = dp1 + b * IMG1;
        const int *ib = idx1 + b * IMG1;
        /* a row of 14 windows at a time, no branch: each window's gradient (0 where its
         * pooled value is not positive) to its maximum's place, (2r + d / 2, 2q + d % 2):
         * pair q of row 2r + d / 2, d % 2 in the pair. The six channels' pairs of a row
         * (zeros and all), [channel][pair], transposed in registers to the tile's
         * [pair][channel]: scattering them had cost as much as the products */
        const v16i lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
        v16 sum[C1] = {{0}};  /* the biases': this image's, added to the block's after */
        for (int r = 0; r < P1; r++) {
            __m512i pairs[2][AMX_COLS];
            for (int o = 0; o < C1; o++) {
                const int k = (o * P1 + r) * P1;  /* lanes 14 and 15 read on, and are dropped */
                const __m512i at = _mm512_loadu_si512(ib + k);
                const v16 g = (v16)((v16i)load16(dp + k) & (load16(pb + k) > (v16){0})
                                    & (lane < P1));
                sum[o] += g;
                const __m512i v = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh((__m512)g));
                const __m512i hi = _mm512_slli_epi32(v, 16);
                for (int dy = 0; dy < 2; dy++)
                    pairs[dy][o] = _mm512_or_si512(
                        _mm512_maskz_mov_epi32(_mm512_cmpeq_epi32_mask(at, _mm512_set1_epi32(2 * dy)), v),
                        _mm512_maskz_mov_epi32(_mm512_cmpeq_epi32_mask(at, _mm512_set1_epi32(2 * dy + 1)), hi));
            }
            for (int dy = 0; dy < 2; dy++) {
                pairs[dy][6] = pairs[dy][7] = _mm512_setzero_si512();
                transpose_8x16(pairs[dy], (__m512i *)(dzb + (2 * r + dy) * 16 * AMX_COLS * 2));
            }
        }
        for (int o = 0; o < C1; o++) bias[o] += sum16(sum[o]);
        /* two rows at a time, their output-gradient tiles 6 and 7: a tile is not renamed,
         * so a load into the tile the last products still read waits for them */
        for (int yy = 0; yy < S1; yy += 2) {
            const uint16_t *a = xb + yy * C0 * 32, *a2 = a + C0 * 32;
            _tile_loadd(6, dzb + yy * 16 * AMX_COLS * 2, AMX_COLS * 4);
            _tile_loadd(7, dzb + (yy + 1) * 16 * AMX_COLS * 2, AMX_COLS * 4);
            _tile_loadd(5, a + 0 * XROWS, 64); _tile_dpbf16ps(0, 5, 6);
            _tile_loadd(5, a2 + 0 * XROWS, 64); _tile_dpbf16ps(0, 5, 7);
            _tile_loadd(5, a + 1 * XROWS, 64); _tile_dpbf16ps(1, 5, 6);
            _tile_loadd(5, a2 + 1 * XROWS, 64); _tile_dpbf16ps(1, 5, 7);
            _tile_loadd(5, a + 2 * XROWS, 64); _tile_dpbf16ps(2, 5, 6);
            _tile_loadd(5, a2 + 2 * XROWS, 64); _tile_dpbf16ps(2, 5, 7);
            _tile_loadd(5, a + 3 * XROWS, 64); _tile_dpbf16ps(3, 5, 6);
            _tile_loadd(5, a2 + 3 * XROWS, 64); _tile_dpbf16ps(3, 5, 7);
            _tile_loadd(5, a + 4 * XROWS, 64); _tile_dpbf16ps(4, 5, 6);
            _tile_loadd(5, a2 + 4 * XROWS, 64); _tile_dpbf16ps(4, 5, 7);
        }
    }
    const int stride = AMX_COLS * 4;
    _tile_stored(0, part + 0 * AMX_ROWS * AMX_COLS, stride);
    _tile_stored(1, part + 1 * AMX_ROWS * AMX_COLS, stride);
    _tile_stored(2, part + 2 * AMX_ROWS * AMX_COLS, stride);
    _tile_stored(3, part + 3 * AMX_ROWS * AMX_COLS, stride);
    _tile_stored(4, part + 4 * AMX_ROWS * AMX_COLS, stride);
}

/* conv2's weight gradient on the tiles for the images [b0, b1), added into ``part``: 30
 * tiles, one per (input channel c, kernel column kx), of 5 rows (kernel row ky) x 16
 * output channels. As GEMMs over an image's 100 output pixels: dW[c][kx] (5 x 16) +=
 * X (5 x 128) . dZ (128 x 16), where row ky of X is p1[c][y + ky][x + kx] over the pixels
 * (y, x): with p1's rows shifted by kx and cut to 10, laid out [kx][c][row][10], that is
 * 128 consecutive values from row ky on, and the 5 rows lie 20 bytes apart: one tile load.
 * dZ is conv2's output gradient [pixel][channel], its pixels in pairs (the tiles'
 * bfloat16 layout), zero past pixel 100. */
static void conv2_weight_amx(float *part, long b0, long b1, const float *p1, const float *dzp) {
    enum { SR = P1 + 3 };  /* a shifted plane's rows: 14, and 3 of zeros the last chunk reads */
    uint16_t sh[K * C1 * SR * S2] __attribute__((aligned(64)));
    uint16_t dz[64 * C2 * 2] __attribute__((aligned(64)));
    memset(sh, 0, sizeof sh);
    memset(dz, 0, sizeof dz);
    tilecfg cfg = {0};
    cfg.palette = 1;
    cfg.rows[0] = cfg.rows[1] = K;
    for (int t = 0; t < 6; t++) cfg.colsb[t] = 64;
    for (int t = 2; t < 6; t++) cfg.rows[t] = 16;
    _tile_loadconfig(&cfg);
    for (long b = b0; b < b1; b++) {
        const float *pb = p1 + b * IMG1;  /* reads run 5 floats past the image: the workspace's */
        for (int kx = 0; kx < K; kx++)
            for (int c = 0; c < C1; c++)
                for (int r = 0; r < P1; r++)
                    _mm256_mask_storeu_epi16(sh + ((kx * C1 + c) * SR + r) * S2, 0x3ff,
                                             (__m256i)_mm512_cvtneps_pbh(
                                                 _mm512_loadu_ps(pb + (c * P1 + r) * P1 + kx)));
        const float *d = dzp + b * NPIX2 * C2;
        for (int j = 0; j < NPIX2 / 2; j++) {
            _mm512_store_si512((__m512i *)(dz + j * 32),
                               bf16_pairs(_mm512_loadu_ps(d + 2 * j * C2),
                                          _mm512_loadu_ps(d + (2 * j + 1) * C2)));
        }
        _tile_loadd(2, dz + 0 * 512, 64);
        _tile_loadd(3, dz + 1 * 512, 64);
        _tile_loadd(4, dz + 2 * 512, 64);
        _tile_loadd(5, dz + 3 * 512, 64);
        for (int c = 0; c < C1; c++)
            for (int kx = 0; kx < K; kx++) {
                float *sum = part + (c * K + kx) * K * C2;
                const uint16_t *x = sh + (kx * C1 + c) * SR * S2;
                _tile_loadd(0, sum, 64);
                _tile_loadd(1, x + 0, 2 * S2); _tile_dpbf16ps(0, 1, 2);
                _tile_loadd(1, x + 32, 2 * S2); _tile_dpbf16ps(0, 1, 3);
                _tile_loadd(1, x + 64, 2 * S2); _tile_dpbf16ps(0, 1, 4);
                _tile_loadd(1, x + 96, 2 * S2); _tile_dpbf16ps(0, 1, 5);
                _tile_stored(0, sum, 64);
            }
    }
}

/* conv2's input gradient on the tiles for one image, an input channel c at a time: its
 * taps' 100 pixel sums over the 16 output channels, dct[t][px] = sum_o w2[o][c][t] dzc[o][px],
 * as the GEMM W2c^T (32 x 16: the channel's 25 taps, padded, x output channels) . dZ
 * (16 x 112: output channels in pairs x pixels), then added where each tap reads p1, a row
 * of 10 pixels at a time, as the float32 step does. A channel's sums (14 KB) are read back
 * from L1: all 150 taps' at once (70 KB an image) went out to L2 and back, and a K of 32
 * (16 of them zero) had doubled the products. ``wt`` is W2^T in bfloat16, made once a
 * step by conv2_input_weights; the tiles are set by conv2_input_tiles_on. */
static void conv2_input_amx(float *dp, const float *dz, const uint16_t *wt) {
    float dct[32 * 112] __attribute__((aligned(64)));
    uint16_t zp[8 * 112 * 2] __attribute__((aligned(64)));  /* [o / 2][px][o % 2], 0 past */
    for (int j = 0; j < C2 / 2; j++)
        for (int px = 0; px < 112; px += 16) {
            const __mmask16 m = px + 16 <= NPIX2 ? 0xffff : (1u << (NPIX2 - px)) - 1;
            _mm512_store_si512((__m512i *)(zp + (j * 112 + px) * 2),
                               bf16_pairs(_mm512_maskz_loadu_ps(m, dz + 2 * j * NPIX2 + px),
                                          _mm512_maskz_loadu_ps(m, dz + (2 * j + 1) * NPIX2 + px)));
        }
    for (int c = 0; c < C1; c++) {
        for (int n = 0; n < 112; n += 16) {
            _tile_loadd(2, zp + n * 2, 112 * 4);
            _tile_zero(0);
            _tile_loadd(1, wt + (c * 32 + 0) * C2, C2 * 2);
            _tile_dpbf16ps(0, 1, 2);
            _tile_stored(0, dct + 0 * 112 + n, 112 * 4);
            _tile_zero(3);
            _tile_loadd(4, wt + (c * 32 + 16) * C2, C2 * 2);
            _tile_dpbf16ps(3, 4, 2);
            _tile_stored(3, dct + 16 * 112 + n, 112 * 4);
        }
        col2im_channel(dp + c * P1 * P1, dct, 112);
    }
}

/* conv2_input_amx's tiles: 0 and 3 sums (16 x 16 floats), 1 and 4 weights (16 taps x 16
 * output channels), 2 the output gradient (8 pairs of channels x 16 pixels x 2) */
static void conv2_input_tiles_on(void) {
    tilecfg cfg = {0};
    cfg.palette = 1;
    for (int t = 0; t < 5; t++) cfg.rows[t] = 16, cfg.colsb[t] = 64;
    cfg.colsb[1] = cfg.colsb[4] = C2 * 2;
    cfg.rows[2] = C2 / 2;
    _tile_loadconfig(&cfg);
}

/* the blocks' partial sums (``blocks`` of ``n`` floats, n a multiple of 16, one after
 * another) added into the first, in the blocks' order, 16 at a time: the same sums as
 * adding each block's in turn into zeros, shared between threads by position (the scalar
 * loop, one thread, had been a twentieth of the step) */
static void sum_partials(float *part, long n, long blocks) {
#pragma omp parallel for schedule(static) if (blocks * n >= 16384)
    for (long i = 0; i < n; i += 16) {
        v16 acc = load16(part + i);
        for (long blk = 1; blk < blocks; blk++) acc += load16(part + blk * n + i);
        store16(part + i, acc);
    }
}

/* ---- the fc layers' gradients on the tiles: C = A . B with A bfloat16 rows and B packed
 * in the tiles' layout (pairs of consecutive k interleaved), float32 sums; every C tile
 * computed whole by one thread, k in order: any thread count gives the same bits */
static inline long up(long n, long m) { return (n + m - 1) / m * m; }

/* C (M x N floats, ldc) = A (M x K bfloat16, lda) . B (K / 2 rows of N pairs, ldb pairs);
 * M and N multiples of 16, K of 32, the padding zero in A or B */
static void amx_gemm(float *C, long ldc, const uint16_t *A, long lda, const uint16_t *Bp,
                     long ldb, long M, long N, long K) {
    const long nt = N / 16, tiles = M / 16 * nt;
    {
        tiles_square();
#pragma omp for schedule(static)
        for (long t = 0; t < tiles; t++) {
            const long m = t / nt * 16, n = t % nt * 16;
            _tile_zero(0);
            for (long k = 0; k < K; k += 32) {
                _tile_loadd(1, A + m * lda + k, lda * 2);
                _tile_loadd(2, Bp + (k / 2 * ldb + n) * 2, ldb * 4);
                _tile_dpbf16ps(0, 1, 2);
            }
            _tile_stored(0, C + m * ldc + n, ldc * 4);
        }
        _tile_release();
    }
}

/* rows x cols floats (ld) -> bfloat16 rows of ``out_ld`` (a multiple of 32), ``rows_p``
 * of them, zero beyond ``rows`` and ``cols`` */
static void to_bf16_rows(uint16_t *out, long out_ld, const float *in, long ld, long rows,
                         long cols, long rows_p) {
#pragma omp for schedule(static)
    for (long r = 0; r < rows_p; r++)
        for (long c = 0; c < out_ld; c += 32) {
            const long left = r < rows ? cols - c : 0;
            const __mmask16 lo = left >= 16 ? 0xffff : left > 0 ? (1u << left) - 1 : 0;
            const __mmask16 hi = left >= 32 ? 0xffff : left > 16 ? (1u << (left - 16)) - 1 : 0;
            const float *src = in + r * ld + c;
            const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, src + 16),
                                                   _mm512_maskz_loadu_ps(lo, src));
            _mm512_storeu_si512((__m512i *)(out + r * out_ld + c), (__m512i)v);
        }
}

/* B for the tiles from rows x cols floats (ld) whose rows are the product's k:
 * out[r / 2][c][r % 2], ``rows_p`` rows (a multiple of 32), ``cols_p`` columns (of 16),
 * zero beyond ``rows`` and ``cols`` */
static void pack_row_pairs(uint16_t *out, const float *in, long ld, long rows, long cols,
                           long rows_p, long cols_p) {
#pragma omp for schedule(static)
    for (long r = 0; r < rows_p; r += 2)
        for (long c = 0; c < cols_p; c += 16) {
            const long left = cols - c;
            const __mmask16 m = left >= 16 ? 0xffff : left > 0 ? (1u << left) - 1 : 0;
            const __m512 a = _mm512_maskz_loadu_ps(r < rows ? m : 0, in + r * ld + c);
            const __m512 b = _mm512_maskz_loadu_ps(r + 1 < rows ? m : 0, in + (r + 1) * ld + c);
            _mm512_storeu_si512((__m512i *)(out + (r / 2 * cols_p + c) * 2), bf16_pairs(a, b));
        }
}

/* the transpose of rows x cols floats (ld) as bfloat16 rows: out[c][r], ``cols_p`` rows of
 * ``out_ld`` (a multiple of 32), zero beyond */
static void to_bf16_transposed(uint16_t *out, long out_ld, const float *in, long ld, long rows,
                               long cols, long cols_p, uint16_t *row_bf16) {
    const long w = up(cols, 32);
    to_bf16_rows(row_bf16, w, in, ld, rows, cols, rows);
#pragma omp for schedule(static)
    for (long c = 0; c < cols_p; c++) {  /* a row of the transpose each, zero past */
        uint16_t *row = out + c * out_ld;
        memset(row, 0, out_ld * sizeof(uint16_t));
        if (c < cols)
            for (long r = 0; r < rows; r++) row[r] = row_bf16[r * w + c];
    }
}

typedef struct { uint16_t *a, *b, *t; float *c; } fc_scratch;

/* an fc layer's input gradient (0 where ``act`` is not positive) and its weights'
 * gradient on the tiles, its bias's in float32 (in order), then their SGD step */
static void linear_backward_sgd_amx(const float *in, float *w, float *bias, float *wbuf,
                                    float *bbuf, const float *dz, float *din, const float *act,
                                    int batch, int n_in, int n_out, float lr, float momentum,
                                    fc_scratch s) {
    if (din) {  /* din = dz . w: k over the outputs */
        const long M = up(batch, 16), K = up(n_out, 32), N = up(n_in, 16);
        to_bf16_rows(s.a, K, dz, n_out, batch, n_out, M);
        pack_row_pairs(s.b, w, n_in, n_out, n_in, K, N);
        amx_gemm(s.c, N, s.a, K, s.b, N, M, N, K);
#pragma omp for schedule(static)
        for (long b = 0; b < batch; b++)
            for (int i = 0; i < n_in; i++) {
                const float v = s.c[b * N + i];
                din[b * n_in + i] = act && !(act[b * n_in + i] > 0.0f) ? 0.0f : v;
            }
    }
    /* the weights' gradient dz^T . in: k over the images */
    const long M = up(n_out, 16), K = up(batch, 32), N = up(n_in, 16);
    to_bf16_transposed(s.a, K, dz, n_out, batch, n_out, M, s.t);
    pack_row_pairs(s.b, in, n_in, batch, n_in, K, N);
    amx_gemm(s.c, N, s.a, K, s.b, N, M, N, K);
#pragma omp for schedule(static)
    for (int o = 0; o < n_out; o++) {
        float sum = 0.0f;
        for (long b = 0; b < batch; b++) sum += dz[b * n_out + o];
        sgd(w + (long)o * n_in, wbuf + (long)o * n_in, s.c + o * N, n_in, lr, momentum);
        sgd(bias + o, bbuf + o, &sum, 1, lr, momentum);
    }
}

/* W2^T in bfloat16 for conv2_input_amx: [input channel][tap][output channel], 6 x 32 x 16,
 * taps 25-31 zero */
static void conv2_input_weights(uint16_t *wt, const float *w2) {
    memset(wt, 0, C1 * 32 * C2 * sizeof(uint16_t));
    float row[16];
    for (int c = 0; c < C1; c++)
        for (int t = 0; t < K * K; t++) {
            for (int o = 0; o < C2; o++) row[o] = w2[o * T2 + c * K * K + t];
            _mm256_storeu_si256((__m256i *)(wt + (c * 32 + t) * C2),
                                (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(row)));
        }
}
#else
int lenet_amx_ready(void) { return 0; }
#endif

/* which of the machine's vector and matrix units the step was built to use */
const char *lenet_isa(int amx) {
#ifdef HAVE_AMX
    if (amx) return "AVX-512 FMA (float32 forward), AMX-BF16 tiles (backward products)";
#else
    (void)amx;
#endif
#if defined(__AVX512F__)
    return "AVX-512 FMA (float32)";
#elif defined(__AVX2__) && defined(__FMA__)
    return "AVX2 FMA (float32)";
#else
    return "no FMA vector units (float32)";
#endif
}

/* One training step on a batch: updates the ten parameter tensors and their momentum
 * buffers in place; returns the batch's mean loss (before the update). */
float lenet_step(int batch, const float *x, const int64_t *y, float **params, float **bufs,
                 float lr, float momentum, float *work, int *iwork, int threads, int amx) {
#ifdef _OPENMP
    /* the process's OpenMP threads are the caller's (torch's intra-op threads among
     * them): this step's count holds for this step only */
    const int caller_threads = omp_get_max_threads();
    if (threads > 0) omp_set_num_threads(threads);
#endif
    float *w1 = params[0], *b1 = params[1], *w2 = params[2], *b2 = params[3];
    float *fw1 = params[4], *fb1 = params[5], *fw2 = params[6], *fb2 = params[7];
    float *fw3 = params[8], *fb3 = params[9];
    const long B = batch;
    float *p1 = work, *p2 = p1 + B * IMG1, *h1 = p2 + B * F0;
    float *h2 = h1 + B * F1, *z3 = h2 + B * F2, *dz3 = z3 + B * F3, *dz2 = dz3 + B * F3;
    float *dz1 = dz2 + B * F2, *dp2 = dz1 + B * F1, *dzc = dp2 + B * F0;
    float *dp1 = dzc + B * NPIX2 * C2, *dzp = dp1 + B * IMG1, *wt2 = dzp + B * NPIX2 * C2;
    float *dz0 = wt2 + T2 * C2;  /* conv1's output gradient, BLOCK images at a time */
    unsigned char *live = (unsigned char *)(wt2 + SHARED);
    float *part2 = wt2 + SHARED + B * (NPIX2 / 4 + 1);  /* after live's B * NPIX2 bytes */
    int *idx1 = iwork, *idx2 = iwork + B * IMG1;
    /* the conv layers' gradients, kept whole until their update at the end */
    static float g_w1[C1 * T1], g_b1[C1], g_w2[C2 * T2], g_b2[C2];

    tap_offsets();  /* 150 numbers: cheaper than asking whether they were made */
    MARK_START;
    for (int t = 0; t < T2; t++)
        for (int o = 0; o < C2; o++) wt2[t * C2 + o] = w2[o * T2 + t];
    MARK(0);

    /* ---- forward */
#pragma omp parallel for schedule(static) if (batch >= 16)
    for (long b = 0; b < B; b++) {
        conv1_forward(x + b * C0 * S0 * S0, w1, b1, p1 + b * IMG1, idx1 + b * IMG1);
        conv2_forward(p1 + b * IMG1, wt2, b2, p2 + b * F0, idx2 + b * F0);
    }
    MARK(1);
    if (batch >= FC_OUTER_BATCH) {  /* the weights transposed once, then outer products */
        float *t1 = part2 + PARTIALS(batch) + AMX_PARTIALS(batch) + AMX_FC(batch);
        float *t2 = t1 + FC_T1, *t3 = t2 + FC_T2;
        fc_transposed(t1, t1 + F0 * 128, fw1, fb1, F0, F1, 128);
        fc_transposed(t2, t2 + F1 * 96, fw2, fb2, F1, F2, 96);
        fc_transposed(t3, t3 + F2 * 16, fw3, fb3, F2, F3, 16);
        fc_rows_6_4(p2, t1, t1 + F0 * 128, h1, batch, F0, F1, 128, 1);
        fc_rows_8_3(h1, t2, t2 + F1 * 96, h2, batch, F1, F2, 96, 1);
        fc_rows_8_1(h2, t3, t3 + F2 * 16, z3, batch, F2, F3, 16, 0);
    } else {
        linear_forward(p2, fw1, fb1, h1, batch, F0, F1, 1);
        linear_forward(h1, fw2, fb2, h2, batch, F1, F2, 1);
        linear_forward(h2, fw3, fb3, z3, batch, F2, F3, 0);
    }

    MARK(2);
    /* ---- loss and its gradient: mean over the batch of logsumexp(z) - z[label] */
    double loss = 0.0;
    for (long b = 0; b < B; b++) {
        const float *z = z3 + b * F3;
        float m = z[0];
        for (int k = 1; k < F3; k++) m = z[k] > m ? z[k] : m;
        float e[F3], s = 0.0f;
        for (int k = 0; k < F3; k++) s += (e[k] = expf(z[k] - m));
        const int label = (int)y[b];
        loss += (double)(logf(s) + m - z[label]);
        for (int k = 0; k < F3; k++) dz3[b * F3 + k] = (e[k] / s - (k == label)) / (float)B;
    }

    MARK(3);
    /* ---- backward of the fc layers (with the weights before their update) */
#ifdef HAVE_AMX
    if (amx) {
        float *fcw = part2 + PARTIALS(batch) + AMX_PARTIALS(batch);
        const fc_scratch fc = {(uint16_t *)fcw, (uint16_t *)(fcw + AMX_FC_A(B)),
                               (uint16_t *)(fcw + AMX_FC_A(B) + AMX_FC_B(B)),
                               fcw + AMX_FC_A(B) + AMX_FC_B(B) + AMX_FC_T(B)};
        /* one team for the three layers, their loops shared out by orphaned "omp for"s:
         * 24 parallel regions of a few microseconds' work each had cost more in starting
         * and joining the team than in work */
#pragma omp parallel if (batch >= 64)
        {
            linear_backward_sgd_amx(h2, fw3, fb3, bufs[8], bufs[9], dz3, dz2, h2, batch, F2,
                                    F3, lr, momentum, fc);
            linear_backward_sgd_amx(h1, fw2, fb2, bufs[6], bufs[7], dz2, dz1, h1, batch, F1,
                                    F2, lr, momentum, fc);
            linear_backward_sgd_amx(p2, fw1, fb1, bufs[4], bufs[5], dz1, dp2, NULL, batch, F0,
                                    F1, lr, momentum, fc);
        }
        goto fc_backward_done;
    }
#endif
    linear_backward_sgd(h2, fw3, fb3, bufs[8], bufs[9], dz3, dz2, h2, batch, F2, F3, lr, momentum);
    linear_backward_sgd(h1, fw2, fb2, bufs[6], bufs[7], dz2, dz1, h1, batch, F1, F2, lr, momentum);
    linear_backward_sgd(p2, fw1, fb1, bufs[4], bufs[5], dz1, dp2, NULL, batch, F0, F1, lr, momentum);
#ifdef HAVE_AMX
fc_backward_done:
#endif

    MARK(4);
    /* ---- through pool2 (and conv2's ReLU) to conv2's output, as [channel][pixel] (dzc)
     * and as [pixel][channel] (dzp), with which pixels have any gradient at all (live) */
#pragma omp parallel for schedule(static) if (batch >= 16)
    for (long b = 0; b < B; b++) pool2_backward(b, p2, dp2, idx2, dzc, dzp, live);

    MARK(5);
    /* ---- conv2's weight and bias gradients: gw2[t][o] = sum_b,px p1[b][px + tap t] dzp[b][px][o]
     * with the 16 channels as lanes, 10 taps (10 registers) at a time; pixels whose 16
     * gradients are all 0 skipped. Each block of BLOCK images makes its own partial sum
     * (the blocks are shared out between threads), and the partial sums are added in the
     * blocks' order: the same sums whatever the thread count. */
    const long blocks = (B + BLOCK - 1) / BLOCK;
#ifdef HAVE_AMX
    if (amx) {  /* bfloat16 products, float sums: a partial per block, added in order */
        memset(part2, 0, blocks * T2 * C2 * sizeof(float));
#pragma omp parallel if (blocks >= 2)
        {
#pragma omp for schedule(static)
            for (long blk = 0; blk < blocks; blk++)
                conv2_weight_amx(part2 + blk * T2 * C2, blk * BLOCK,
                                 (blk + 1) * BLOCK < B ? (blk + 1) * BLOCK : B, p1, dzp);
            _tile_release();
        }
        sum_partials(part2, T2 * C2, blocks);  /* into block 0's, then laid out as w2 */
        for (int c = 0; c < C1; c++)
            for (int kx = 0; kx < K; kx++)
                for (int ky = 0; ky < K; ky++)
                    for (int o = 0; o < C2; o++)
                        g_w2[o * T2 + (c * K + ky) * K + kx] = part2[((c * K + kx) * K + ky) * C2 + o];
        goto conv2_weights_done;
    }
#endif
#pragma omp parallel for schedule(static) if (blocks >= 2)
    for (long blk = 0; blk < blocks; blk++) {
        const long b0 = blk * BLOCK, b1 = b0 + BLOCK < B ? b0 + BLOCK : B;
        float *part = part2 + blk * T2 * C2;
        for (int t0 = 0; t0 < T2; t0 += 10) {
            v16 acc[10] = {{0}};
            for (long b = b0; b < b1; b++)
                for (int px = 0; px < NPIX2; px++) {
                    if (!live[b * NPIX2 + px]) continue;
                    const v16 d = load16(dzp + (b * NPIX2 + px) * C2);
                    const float *c = p1 + b * IMG1 + (px / S2) * P1 + px % S2;
                    for (int k = 0; k < 10; k++) acc[k] += c[TAP2[t0 + k]] * d;
                }
            for (int k = 0; k < 10; k++) store16(part + (t0 + k) * C2, acc[k]);
        }
    }
    float *gt2 = wt2;  /* conv2's weights transposed are not needed after the forward */
#pragma omp parallel for schedule(static) if (blocks >= 2)
    for (int t = 0; t < T2; t++) {
        v16 acc = load16(part2 + t * C2);
        for (long blk = 1; blk < blocks; blk++) acc += load16(part2 + (blk * T2 + t) * C2);
        store16(gt2 + t * C2, acc);
    }
    for (int t = 0; t < T2; t++)
        for (int o = 0; o < C2; o++) g_w2[o * T2 + t] = gt2[t * C2 + o];
#ifdef HAVE_AMX
conv2_weights_done:
#endif
    {
        v16 acc = {0};
        for (long i = 0; i < B * NPIX2; i++)
            if (live[i]) acc += load16(dzp + i * C2);
        store16(g_b2, acc);
    }

    MARK(6);
    /* ---- conv2's input gradient: for each tap t, sum_o w2[o][t] dzc[o][px] over the 100
     * pixels (as lanes: 6 x 16 and a tail of 4), added at once where the tap reads p1, a row
     * of 10 pixels at a time (col2im tap by tap: no 150 x 100 copy an image is made) */
#ifdef HAVE_AMX
    if (amx) {
        static uint16_t w2t[C1 * 32 * C2] __attribute__((aligned(64)));
        conv2_input_weights(w2t, w2);
#pragma omp parallel if (batch >= 16)
        {
            conv2_input_tiles_on();
#pragma omp for schedule(static)
            for (long b = 0; b < B; b++)
                conv2_input_amx(dp1 + b * IMG1, dzc + b * C2 * NPIX2, w2t);
            _tile_release();
        }
        goto conv2_input_done;
    }
#endif
#pragma omp parallel for schedule(static) if (batch >= 16)
    for (long b = 0; b < B; b++) {
        float *dp = dp1 + b * IMG1;
        const float *dz = dzc + b * C2 * NPIX2;
        memset(dp, 0, IMG1 * sizeof(float));
        for (int t = 0; t < T2; t++) {  /* a tap's 100 pixels in 7 registers, over the 16 channels */
            v16 a[6] = {{0}};
            float tail[4] = {0};
            for (int o = 0; o < C2; o++) {
                const float c = w2[o * T2 + t];
                const float *dzo = dz + o * NPIX2;
                for (int k = 0; k < 6; k++) a[k] += c * load16(dzo + 16 * k);
                for (int k = 0; k < 4; k++) tail[k] += c * dzo[96 + k];
            }
            float dct[NPIX2];
            for (int k = 0; k < 6; k++) store16(dct + 16 * k, a[k]);
            for (int k = 0; k < 4; k++) dct[96 + k] = tail[k];
            for (int yy = 0; yy < S2; yy++) {
                float *dst = dp + yy * P1 + TAP2[t];
                for (int xx = 0; xx < S2; xx++) dst[xx] += dct[yy * S2 + xx];
            }
        }
    }

#ifdef HAVE_AMX
conv2_input_done:
#endif
    MARK(7);
    /* ---- conv1's weight and bias gradients, BLOCK images at a time (their inputs and
     * output gradients, 240 KB, stay in the cache): the block's output gradient (0 but
     * where a window's positive maximum was) laid out whole; then for each (oc, ic) 25
     * accumulators, one per tap, over the 28 x 28 outputs as the chunks [0, 16) and
     * [12, 28) (the 4 in both counted once), and for each oc its bias's; all kept between
     * blocks, so that the sums run over the images in order */
#ifdef HAVE_AMX
    if (amx) {  /* bfloat16 products, float sums: a partial per block, added in order */
        float *part1 = part2 + PARTIALS(batch);
        const long blocks = (B + BLOCK - 1) / BLOCK;
        memset(part1, 0, blocks * AMX_PART * sizeof(float));
#pragma omp parallel if (batch >= 16)
        {
            conv1_weight_tiles_on();
#pragma omp for schedule(static, 1)
            for (long k = 0; k < blocks; k++)
                conv1_weight_amx(part1 + k * AMX_PART, k * BLOCK,
                                 (k + 1) * BLOCK < B ? (k + 1) * BLOCK : B, x, p1, dp1, idx1);
            _tile_release();
        }
        sum_partials(part1, AMX_PART, blocks);
        for (int kx = 0; kx < K; kx++)
            for (int ky = 0; ky < K; ky++)
                for (int c = 0; c < C0; c++)
                    for (int o = 0; o < C1; o++)
                        g_w1[((o * C0 + c) * K + ky) * K + kx] =
                            part1[(kx * AMX_ROWS + ky * C0 + c) * AMX_COLS + o];
        for (int o = 0; o < C1; o++) g_b1[o] = part1[K * AMX_ROWS * AMX_COLS + o];
        goto conv1_done;
    }
#endif
    const v16 upper = {0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};  /* lanes 16..27 of [12, 28) */
    static v16 acc1[C1 * C0][K * K], accb[C1];
    memset(acc1, 0, sizeof acc1);
    memset(accb, 0, sizeof accb);
    for (long b0 = 0; b0 < B; b0 += BLOCK) {
        const long b1 = b0 + BLOCK < B ? b0 + BLOCK : B;
#pragma omp parallel for schedule(static) if (batch >= 16)
        for (long b = b0; b < b1; b++) {
            float *dz = dz0 + (b - b0) * C1 * S1 * S1;
            memset(dz, 0, C1 * S1 * S1 * sizeof(float));
            conv1_output_gradient(dz, p1 + b * IMG1, dp1 + b * IMG1, idx1 + b * IMG1);
        }
#pragma omp parallel for schedule(static, 1) if (batch >= 16)  /* dealt round */
        for (int task = 0; task < CONV1_TASKS + C1; task++) {
            if (task >= CONV1_TASKS) {  /* a bias: its channel's output gradient, summed */
                const int o = task - CONV1_TASKS;
                v16 acc = accb[o];
                for (long b = b0; b < b1; b++) {
                    const float *dz = dz0 + ((b - b0) * C1 + o) * S1 * S1;
                    for (int yy = 0; yy < S1; yy++)
                        acc += load16(dz + yy * S1) + load16(dz + yy * S1 + 12) * upper;
                }
                accb[o] = acc;
                continue;
            }
#ifdef __AVX512F__
            /* 45 tasks: (input channel, kernel row, pair of output channels) */
            const int ic = task / (K * C1 / 2), ky = (task / (C1 / 2)) % K, o0 = task % (C1 / 2) * 2;
            conv1_weight_pair(acc1[o0 * C0 + ic] + ky * K, acc1[(o0 + 1) * C0 + ic] + ky * K, ky,
                              b0, b1, dz0, x, o0, ic);
#else
            const int oi = task / 2, o = oi / C0, ic = oi % C0;
            if (task % 2 == 0)
                conv1_weight_rows(acc1[oi], 0, 3, b0, b1, dz0, x, o, ic);
            else
                conv1_weight_rows(acc1[oi] + 3 * K, 3, 2, b0, b1, dz0, x, o, ic);
#endif
        }
    }
    for (int oi = 0; oi < C1 * C0; oi++)
        for (int t = 0; t < K * K; t++) g_w1[oi * K * K + t] = sum16(acc1[oi][t]);
    for (int o = 0; o < C1; o++) g_b1[o] = sum16(accb[o]);
#ifdef HAVE_AMX
conv1_done:
#endif
    MARK(8);
    /* ---- SGD with momentum, every parameter */
    /* (the fc layers' were made with their gradients, in linear_backward_sgd) */
    const float *grads[4] = {g_w1, g_b1, g_w2, g_b2};
    const int sizes[4] = {C1 * T1, C1, C2 * T2, C2};
    for (int i = 0; i < 4; i++) sgd(params[i], bufs[i], grads[i], sizes[i], lr, momentum);
    MARK(9);
#ifdef _OPENMP
    omp_set_num_threads(caller_threads);
#endif
    return (float)(loss / (double)B);
}
