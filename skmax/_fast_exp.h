/* Fast exp of non-positive arguments for the skmax row kernels, the
   vectorised row loops built on it, and their CPU dispatch.

   1. The row kernels exponentiate only shifted logits d = (a - max) / T <= 0,
      so exp needs no overflow, errno or NaN handling: a branch-free function
      (about 1 ulp) that compilers pipeline and vectorise, where libm's exp is
      an opaque call that dominated a row's cost.
   2. The loop over a row is compiled twice on x86-64 with gcc/clang: a
      portable copy (SSE2) and an AVX2 + FMA copy picked at run time when the
      CPU has both; SKMAX_NO_AVX2 (set before import) forces the portable copy.
   3. The sum of a row's exponentials skips one maximal entry (equal to 1), so
      1 - p of a dominant class keeps full relative precision.
   4. The whole head of a row (max, shift, exp, sum), its stores (p and the
      cross-entropy's gradient) and the Hessian row are compiled the same two
      ways (SKMAX_ROW_COPIES); "omp simd" reductions let the compiler reorder
      the max and the sums, which is what makes them vectorise.
   Speed-ups are measured in docs/benchmarks.md, not quoted here.
*/
#ifndef SKMAX_FAST_EXP_H
#define SKMAX_FAST_EXP_H

#ifdef _OPENMP
#include <omp.h>
#define SKMAX_MAX_THREADS() omp_get_max_threads()
#define SKMAX_HAS_OPENMP 1
#else
#define SKMAX_MAX_THREADS() 1
#define SKMAX_HAS_OPENMP 0
#endif

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* exp(x) for x <= 0, branch-free so that it pipelines well (and can be
   vectorised where the target has fast 64-bit integer vector operations):
   Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, a degree-12 Taylor
   polynomial (truncation error < 2e-16 relative), and 2^n assembled from
   bits in two halves so results underflow gracefully down to 0. */
static inline double skmax_exp_nonpos(double x) {
    const double shifter = 6755399441055744.0;   /* 1.5 * 2^52 */
    double t, r, p, s1, s2;
    int64_t n, h;
    uint64_t bits;
    x = x > -1100.0 ? x : -1100.0;
    x = x < 0.0 ? x : 0.0;
    t = x * 1.4426950408889634 + shifter;
    memcpy(&bits, &t, 8);
    n = (int64_t) bits - (int64_t) 0x4338000000000000LL;   /* round(x / ln2) <= 0 */
    t -= shifter;
    r = (x - t * 6.93147180369123816490e-01) - t * 1.90821492927058770002e-10;
    p = 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    h = -((-n) >> 1);
    bits = (uint64_t) (h + 1023) << 52;
    memcpy(&s1, &bits, 8);
    bits = (uint64_t) (n - h + 1023) << 52;
    memcpy(&s2, &bits, 8);
    return p * s1 * s2;
}

/* e[k] = exp(d[k]) for d <= 0: the row's hot loop. On x86-64 a second
   copy is compiled for AVX2 + FMA and picked at run time when the CPU has
   them (the portable build targets SSE2 only); gcc vectorises the loop,
   4 doubles at a time. */
#define SKMAX_EXP_ARRAY(NAME) \
    static void NAME(const double* d, double* e, int K) { \
        int k; \
        for (k = 0; k < K; k++) e[k] = skmax_exp_nonpos(d[k]); \
    }

SKMAX_EXP_ARRAY(skmax_exp_array_generic)

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SKMAX_X86_DISPATCH 1
__attribute__((target("avx2,fma"))) SKMAX_EXP_ARRAY(skmax_exp_array_avx2)

/* -1: not checked yet; the module checks once at import, before any
   kernel runs on several threads */
static int skmax_cpu_avx2 = -1;

static int skmax_has_avx2(void) {
    if (skmax_cpu_avx2 < 0) {
        __builtin_cpu_init();
        skmax_cpu_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
                         && getenv("SKMAX_NO_AVX2") == NULL;
    }
    return skmax_cpu_avx2;
}
#else
static int skmax_has_avx2(void) { return 0; }
#endif

static void skmax_exp_array(const double* d, double* e, int K) {
#ifdef SKMAX_X86_DISPATCH
    if (skmax_has_avx2()) {
        skmax_exp_array_avx2(d, e, K);
        return;
    }
#endif
    skmax_exp_array_generic(d, e, K);
}

/* Sum of e[k] over every entry but e[skip] (a maximal one, equal to 1):
   the "rest" of the row's sum without the cancellation of sum - 1.
   Four accumulators break the dependency chain of the additions. */
static double skmax_sum_rest(double* e, int K, int skip) {
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0, kept = e[skip];
    int k;
    e[skip] = 0.0;
    for (k = 0; k + 3 < K; k += 4) {
        a0 += e[k];
        a1 += e[k + 1];
        a2 += e[k + 2];
        a3 += e[k + 3];
    }
    for (; k < K; k++) a0 += e[k];
    e[skip] = kept;
    return (a0 + a1) + (a2 + a3);
}

/* The head of every row function in one pass per step, vectorised whole:
   the row max, then d = (a - max) / T (clipped to >= -DBL_MAX), e = exp(d)
   and the sum of e over all entries but the first maximal one (note 3).
   OpenMP's simd pragma allows the reductions to be reordered (max, sum),
   which is what lets the compiler vectorise them; without OpenMP the loops
   run in order, same results to rounding. Returns the index of the first
   maximal entry, or -1 when d holds a NaN (a NaN logit, or an infinite max):
   the caller then takes the row's limit. */
#ifdef _OPENMP
#define SKMAX_PRAGMA(x) _Pragma(#x)
#else
#define SKMAX_PRAGMA(x)
#endif

#define SKMAX_SHIFT_EXP(NAME, T) \
    static int NAME(const T* a, double* d, double* e, int K, double inv_T, double* s_rest) { \
        int k, kmax = 0; \
        T amax = a[0]; \
        double rest = 0.0, nan = 0.0; \
        SKMAX_PRAGMA(omp simd reduction(max:amax)) \
        for (k = 1; k < K; k++) amax = a[k] > amax ? a[k] : amax; \
        for (k = 0; k < K; k++) { \
            if (a[k] == amax) { kmax = k; break; } \
        } \
        SKMAX_PRAGMA(omp simd reduction(+:rest, nan)) \
        for (k = 0; k < K; k++) { \
            double dk = ((double) a[k] - (double) amax) * inv_T, ek; \
            nan += dk == dk ? 0.0 : 1.0; \
            dk = dk > -1.7976931348623157e308 ? dk : -1.7976931348623157e308; \
            ek = skmax_exp_nonpos(dk); \
            d[k] = dk; \
            e[k] = ek; \
            rest += k == kmax ? 0.0 : ek; \
        } \
        *s_rest = rest; \
        return nan > 0.0 ? -1 : kmax; \
    }

/* out[k] = scale * (e[k] * mul - off): probabilities (scale 1, off 0) and
   the cross-entropy's gradient, stored in the row's dtype. */
#define SKMAX_SCALE_STORE(NAME, T) \
    static int NAME(const double* e, T* out, int K, double mul, double off, double scale) { \
        int k; \
        SKMAX_PRAGMA(omp simd) \
        for (k = 0; k < K; k++) out[k] = (T) (scale * (e[k] * mul - off)); \
        return 0; \
    }

/* v = scale * p * (v - <p, v>): one row of the cross-entropy's Hessian
   product over the logits. */
#define SKMAX_HESSP(NAME, T) \
    static int NAME(T* v, const T* p, int K, double scale) { \
        int k; \
        double pv = 0.0; \
        SKMAX_PRAGMA(omp simd reduction(+:pv)) \
        for (k = 0; k < K; k++) pv += (double) p[k] * (double) v[k]; \
        SKMAX_PRAGMA(omp simd) \
        for (k = 0; k < K; k++) v[k] = (T) (scale * (double) p[k] * ((double) v[k] - pv)); \
        return 0; \
    }

/* Index of the first maximal entry of a row, or -1 when the row holds an
   infinite or NaN value (x - x is NaN for both; a sum without branches,
   which vectorises): prediction's check of every row and its argmax. */
#define SKMAX_ROW_ARGMAX(NAME, T) \
    static int NAME(const T* a, int K) { \
        int k; \
        T amax = a[0], nan = 0; \
        SKMAX_PRAGMA(omp simd reduction(max:amax) reduction(+:nan)) \
        for (k = 0; k < K; k++) { \
            amax = a[k] > amax ? a[k] : amax; \
            nan += a[k] - a[k]; \
        } \
        if (nan != 0) return -1; \
        for (k = 0; k < K; k++) { \
            if (a[k] == amax) return k; \
        } \
        return 0; \
    }

/* Whether every entry of a row is finite (x - x is 0 for finite x, NaN for
   infinite or NaN x; a sum without branches, which vectorises): prediction
   checks each row of dense X while it is in cache for the product, instead
   of a separate single-threaded pass over all of X. */
#define SKMAX_ROW_FINITE(NAME, T) \
    static int NAME(const T* a, int K) { \
        int k; \
        T nan = 0; \
        SKMAX_PRAGMA(omp simd reduction(+:nan)) \
        for (k = 0; k < K; k++) nan += a[k] - a[k]; \
        return nan == 0; \
    }

#define SKMAX_ROW_COPIES(SFX, ATTR) \
    ATTR SKMAX_ROW_FINITE(skmax_row_finite_f64_##SFX, double) \
    ATTR SKMAX_ROW_FINITE(skmax_row_finite_f32_##SFX, float) \
    ATTR SKMAX_ROW_ARGMAX(skmax_row_argmax_f64_##SFX, double) \
    ATTR SKMAX_ROW_ARGMAX(skmax_row_argmax_f32_##SFX, float) \
    ATTR SKMAX_HESSP(skmax_hessp_f64_##SFX, double) \
    ATTR SKMAX_HESSP(skmax_hessp_f32_##SFX, float) \
    ATTR SKMAX_SHIFT_EXP(skmax_shift_exp_f64_##SFX, double) \
    ATTR SKMAX_SHIFT_EXP(skmax_shift_exp_f32_##SFX, float) \
    ATTR SKMAX_SCALE_STORE(skmax_scale_store_f64_##SFX, double) \
    ATTR SKMAX_SCALE_STORE(skmax_scale_store_f32_##SFX, float)

SKMAX_ROW_COPIES(generic, )
#ifdef SKMAX_X86_DISPATCH
SKMAX_ROW_COPIES(avx2, __attribute__((target("avx2,fma"))))
#define SKMAX_DISPATCH(NAME, ARGS) \
    if (skmax_has_avx2()) return NAME##_avx2 ARGS; \
    return NAME##_generic ARGS;
#else
#define SKMAX_DISPATCH(NAME, ARGS) return NAME##_generic ARGS;
#endif

static int skmax_shift_exp_f64(const double* a, double* d, double* e, int K, double inv_T,
                               double* s_rest) {
    SKMAX_DISPATCH(skmax_shift_exp_f64, (a, d, e, K, inv_T, s_rest))
}
static int skmax_shift_exp_f32(const float* a, double* d, double* e, int K, double inv_T,
                               double* s_rest) {
    SKMAX_DISPATCH(skmax_shift_exp_f32, (a, d, e, K, inv_T, s_rest))
}
static inline int skmax_row_finite_f64(const double* a, int K) {
    SKMAX_DISPATCH(skmax_row_finite_f64, (a, K))
}
static inline int skmax_row_finite_f32(const float* a, int K) {
    SKMAX_DISPATCH(skmax_row_finite_f32, (a, K))
}
static inline int skmax_row_argmax_f64(const double* a, int K) {
    SKMAX_DISPATCH(skmax_row_argmax_f64, (a, K))
}
static inline int skmax_row_argmax_f32(const float* a, int K) {
    SKMAX_DISPATCH(skmax_row_argmax_f32, (a, K))
}
static int skmax_hessp_f64(double* v, const double* p, int K, double scale) {
    SKMAX_DISPATCH(skmax_hessp_f64, (v, p, K, scale))
}
static int skmax_hessp_f32(float* v, const float* p, int K, double scale) {
    SKMAX_DISPATCH(skmax_hessp_f32, (v, p, K, scale))
}
static int skmax_scale_store_f64(const double* e, double* out, int K, double mul, double off,
                                 double scale) {
    SKMAX_DISPATCH(skmax_scale_store_f64, (e, out, K, mul, off, scale))
}
static int skmax_scale_store_f32(const double* e, float* out, int K, double mul, double off,
                                 double scale) {
    SKMAX_DISPATCH(skmax_scale_store_f32, (e, out, K, mul, off, scale))
}

/* ---- float32 rows of a prediction (design notes 5 and 6) ----

   5. A float32 row of probabilities needs float precision only, so its
      shift, exp and scaling run in float, twice the SIMD width of the double
      path and no conversions; only the row's sum is accumulated in double.
      The copy is compiled three ways: portable, AVX2 + FMA, and AVX-512 where
      the CPU has it (SKMAX_NO_AVX512 forces AVX2 at most).
   6. It only takes rows whose logits are finite and whose spread times 1/T
      stays far inside float's range; it reports any other row (infinite or
      NaN logits, shifts that would overflow in float), which then takes the
      double path with its limits. */

/* exp(x) for x <= 0 in float: the reduction of skmax_exp_nonpos with a
   degree-7 Taylor polynomial (truncation error < 1e-8 relative). */
static inline float skmax_expf_nonpos(float x) {
    const float shifter = 12582912.0f;   /* 1.5 * 2^23 */
    float t, r, p, s1, s2;
    int32_t n, h;
    uint32_t bits;
    x = x > -104.0f ? x : -104.0f;
    x = x < 0.0f ? x : 0.0f;
    t = x * 1.44269504088896341f + shifter;
    memcpy(&bits, &t, 4);
    n = (int32_t) bits - (int32_t) 0x4B400000;   /* round(x / ln2) <= 0 */
    t -= shifter;
    r = (x - t * 0.693359375f) - t * -2.12194440e-4f;
    p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    h = -((-n) >> 1);
    bits = (uint32_t) (h + 127) << 23;
    memcpy(&s1, &bits, 4);
    bits = (uint32_t) (n - h + 127) << 23;
    memcpy(&s2, &bits, 4);
    return p * s1 * s2;
}

/* Row a (K float logits) -> softmax(a / T), or its log, in place. Returns 0
   and leaves the row untouched when it is not one this path takes (note 6). */
#define SKMAX_SOFTMAX_F32(NAME) \
    static int NAME(float* a, int K, double inv_T, int take_log) { \
        int k, kmax = 0; \
        float amax = a[0], amin = a[0], finite = 0.0f, fT = (float) inv_T; \
        double rest = 0.0, log_s; \
        SKMAX_PRAGMA(omp simd reduction(max:amax) reduction(min:amin) reduction(+:finite)) \
        for (k = 0; k < K; k++) { \
            amax = a[k] > amax ? a[k] : amax; \
            amin = a[k] < amin ? a[k] : amin; \
            finite += a[k] - a[k]; \
        } \
        if (finite != 0.0f || !((double) amax - (double) amin < 1e38) \
            || !(((double) amax - (double) amin) * inv_T < 1e37) || !(inv_T < 1e37)) return 0; \
        for (k = 0; k < K; k++) { \
            if (a[k] == amax) { kmax = k; break; } \
        } \
        if (take_log) { \
            SKMAX_PRAGMA(omp simd reduction(+:rest)) \
            for (k = 0; k < K; k++) { \
                float dk = (a[k] - amax) * fT; \
                float ek = skmax_expf_nonpos(dk); \
                a[k] = dk; \
                rest += k == kmax ? 0.0 : (double) ek; \
            } \
            log_s = log1p(rest); \
            SKMAX_PRAGMA(omp simd) \
            for (k = 0; k < K; k++) a[k] = (float) ((double) a[k] - log_s); \
        } else { \
            float inv_s; \
            SKMAX_PRAGMA(omp simd reduction(+:rest)) \
            for (k = 0; k < K; k++) { \
                float ek = skmax_expf_nonpos((a[k] - amax) * fT); \
                a[k] = ek; \
                rest += k == kmax ? 0.0 : (double) ek; \
            } \
            inv_s = (float) (1.0 / (1.0 + rest)); \
            SKMAX_PRAGMA(omp simd) \
            for (k = 0; k < K; k++) a[k] *= inv_s; \
        } \
        return 1; \
    }

SKMAX_SOFTMAX_F32(skmax_softmax_f32_generic)
#ifdef SKMAX_X86_DISPATCH
__attribute__((target("avx2,fma"))) SKMAX_SOFTMAX_F32(skmax_softmax_f32_avx2)
__attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))
SKMAX_SOFTMAX_F32(skmax_softmax_f32_avx512)

static int skmax_cpu_avx512 = -1;   /* as skmax_cpu_avx2 */

static int skmax_has_avx512(void) {
    if (skmax_cpu_avx512 < 0) {
        __builtin_cpu_init();
        skmax_cpu_avx512 = skmax_has_avx2() && __builtin_cpu_supports("avx512f")
                           && __builtin_cpu_supports("avx512dq")
                           && __builtin_cpu_supports("avx512vl")
                           && __builtin_cpu_supports("avx512bw")
                           && getenv("SKMAX_NO_AVX512") == NULL;
    }
    return skmax_cpu_avx512;
}
#else
static int skmax_has_avx512(void) { return 0; }
#endif

/* Rows shorter than this take the AVX2 copy even where AVX-512 is there: a
   row under two 16-float vectors runs mostly in the scalar remainder of the
   AVX-512 loops, where the 8-float AVX2 vectors still cover it (measured in
   docs/benchmarks.md, prediction). */
#define SKMAX_AVX512_MIN_K 32

static inline int skmax_softmax_f32(float* a, int K, double inv_T, int take_log) {
#ifdef SKMAX_X86_DISPATCH
    if (K >= SKMAX_AVX512_MIN_K && skmax_has_avx512())
        return skmax_softmax_f32_avx512(a, K, inv_T, take_log);
    if (skmax_has_avx2()) return skmax_softmax_f32_avx2(a, K, inv_T, take_log);
#endif
    return skmax_softmax_f32_generic(a, K, inv_T, take_log);
}

#endif  /* SKMAX_FAST_EXP_H */
