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
   4. A row's stores (p and the cross-entropy's gradient), its checks and
      the Hessian row are compiled the same two ways (SKMAX_ROW_COPIES);
      "omp simd" reductions let the compiler reorder the max and the sums,
      which is what makes them vectorise. The portable copy of the row head
      (max, shift, exp, sum) is written the same way; on x86-64 the head has
      AVX2 and AVX-512 copies in intrinsics (note 5, further down).
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
static int skmax_has_avx2(void) { return 0; }
static int skmax_has_avx512(void) { return 0; }
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

/* The two closing terms of a cross-entropy row (focal exponent 0, hard
   label y, smoothed target q = (1 - eps) onehot(y) + off, off = eps / K),
   shared by the double row (_row_kernels.pxd) and the float32 rows below.
   The label's gradient entry p_y - q_y takes p_y - 1 of a maximal label
   (d_y == 0) as -rest / s: 1 / s - 1 would cancel away its precision
   (note 3); otherwise p_y = e_y / s. The loss is
   log(s) - (1 - eps) d_y - off sum_k d_k (the last term only with
   smoothing: sum_k d_k may be -inf when a logit is). */
static inline double skmax_xent_label_grad(double rest, double inv_s, double dy, double e_y,
                                           double eps, double off) {
    return (dy == 0.0 ? -rest * inv_s : e_y * inv_s - 1.0) + eps - off;
}

static inline double skmax_xent_loss(double log_s, double dy, double dsum, double eps,
                                     double off) {
    return log_s - (1.0 - eps) * dy - (eps != 0.0 ? off * dsum : 0.0);
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

/* Spread max - min of a row, in double, and whether every entry is finite
   (x - x is 0 for finite x): the temperature fit's scale, and its check of
   the scores, in one vectorised pass (NaN entries may be skipped by the
   min and max; the finiteness flag catches them). */
#define SKMAX_ROW_RANGE(NAME, T) \
    static double NAME(const T* a, int K, int* finite) { \
        int k; \
        T lo = a[0], hi = a[0], nan = 0; \
        SKMAX_PRAGMA(omp simd reduction(min:lo) reduction(max:hi) reduction(+:nan)) \
        for (k = 0; k < K; k++) { \
            lo = a[k] < lo ? a[k] : lo; \
            hi = a[k] > hi ? a[k] : hi; \
            nan += a[k] - a[k]; \
        } \
        *finite = nan == 0; \
        return (double) hi - (double) lo; \
    }

#define SKMAX_ROW_COPIES(SFX, ATTR) \
    ATTR SKMAX_ROW_RANGE(skmax_row_range_f64_##SFX, double) \
    ATTR SKMAX_ROW_RANGE(skmax_row_range_f32_##SFX, float) \
    ATTR SKMAX_ROW_FINITE(skmax_row_finite_f64_##SFX, double) \
    ATTR SKMAX_ROW_FINITE(skmax_row_finite_f32_##SFX, float) \
    ATTR SKMAX_ROW_ARGMAX(skmax_row_argmax_f64_##SFX, double) \
    ATTR SKMAX_ROW_ARGMAX(skmax_row_argmax_f32_##SFX, float) \
    ATTR SKMAX_HESSP(skmax_hessp_f64_##SFX, double) \
    ATTR SKMAX_HESSP(skmax_hessp_f32_##SFX, float) \
    ATTR SKMAX_SCALE_STORE(skmax_scale_store_f64_##SFX, double) \
    ATTR SKMAX_SCALE_STORE(skmax_scale_store_f32_##SFX, float)

SKMAX_ROW_COPIES(generic, )
SKMAX_SHIFT_EXP(skmax_shift_exp_f64_generic, double)
SKMAX_SHIFT_EXP(skmax_shift_exp_f32_generic, float)
#ifdef SKMAX_X86_DISPATCH
SKMAX_ROW_COPIES(avx2, __attribute__((target("avx2,fma"))))
#define SKMAX_DISPATCH(NAME, ARGS) \
    if (skmax_has_avx2()) return NAME##_avx2 ARGS; \
    return NAME##_generic ARGS;
#else
#define SKMAX_DISPATCH(NAME, ARGS) return NAME##_generic ARGS;
#endif

#ifdef SKMAX_X86_DISPATCH
/* ---- The row head in intrinsics (note 5) ----

   5. The head of a row is where a fit's row kernel spends its time, and the
      compiler's "omp simd" copy above loses much of it to the reductions'
      bookkeeping and to scalar remainder loops (a row of 10 or 26 logits is
      mostly remainder). These copies are written in AVX2 and AVX-512
      intrinsics: a masked load covers a row's tail, so every entry takes the
      vector exp; the sum skips every maximal entry with a compare mask and
      adds back their count less one (each is exactly 1), which is the same
      "rest" as note 3 without searching for the first maximum. NaN and
      infinite maxima are found in the max pass and returned as -1, as the
      portable copy does. */
#include <immintrin.h>

/* skmax_exp_nonpos on a vector of doubles, one body for both widths (V the
   vector type, P the intrinsics' prefix, SI their integer-vector suffix);
   the scale 2^n is split as 2^max(n, -1022) times 2^(n - max(n, -1022)), so
   results underflow gracefully to 0, without the arithmetic shift of int64
   lanes that AVX2 lacks. */
#define SKMAX_EXP_NONPOS_VEC(NAME, ATTR, V, VI, P, SI, SET64, MAX64) \
    ATTR static inline V NAME(V x) { \
        const V shifter = P##_set1_pd(6755399441055744.0); \
        const VI lo = SET64(-1022), bias = SET64(1023); \
        V t, r, p, s1, s2; \
        VI n, n1; \
        x = P##_min_pd(P##_max_pd(x, P##_set1_pd(-1100.0)), P##_setzero_pd()); \
        t = P##_fmadd_pd(x, P##_set1_pd(1.4426950408889634), shifter); \
        n = P##_sub_epi64(P##_castpd_##SI(t), SET64(0x4338000000000000LL)); \
        t = P##_sub_pd(t, shifter); \
        r = P##_fnmadd_pd(t, P##_set1_pd(6.93147180369123816490e-01), x); \
        r = P##_fnmadd_pd(t, P##_set1_pd(1.90821492927058770002e-10), r); \
        p = P##_fmadd_pd(P##_set1_pd(1.0 / 479001600.0), r, P##_set1_pd(1.0 / 39916800.0)); \
        p = P##_fmadd_pd(p, r, P##_set1_pd(1.0 / 3628800.0)); \
        p = P##_fmadd_pd(p, r, P##_set1_pd(1.0 / 362880.0)); \
        p = P##_fmadd_pd(p, r, P##_set1_pd(1.0 / 40320.0)); \
        p = P##_fmadd_pd(p, r, P##_set1_pd(1.0 / 5040.0)); \
        p = P##_fmadd_pd(p, r, P##_set1_pd(1.0 / 720.0)); \
        p = P##_fmadd_pd(p, r, P##_set1_pd(1.0 / 120.0)); \
        p = P##_fmadd_pd(p, r, P##_set1_pd(1.0 / 24.0)); \
        p = P##_fmadd_pd(p, r, P##_set1_pd(1.0 / 6.0)); \
        p = P##_fmadd_pd(p, r, P##_set1_pd(0.5)); \
        p = P##_fmadd_pd(p, r, P##_set1_pd(1.0)); \
        p = P##_fmadd_pd(p, r, P##_set1_pd(1.0)); \
        n1 = MAX64(n, lo); \
        s1 = P##_cast##SI##_pd(P##_slli_epi64(P##_add_epi64(n1, bias), 52)); \
        s2 = P##_cast##SI##_pd(P##_slli_epi64(P##_add_epi64(P##_sub_epi64(n, n1), bias), 52)); \
        return P##_mul_pd(P##_mul_pd(p, s1), s2); \
    }

#define SKMAX_ATTR_AVX2 __attribute__((target("avx2,fma")))
#define SKMAX_ATTR_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))

/* max of int64 lanes: AVX2 has no vpmaxsq */
SKMAX_ATTR_AVX2 static inline __m256i skmax_max_epi64_avx2(__m256i a, __m256i b) {
    return _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(b, a));
}

SKMAX_EXP_NONPOS_VEC(skmax_exp4_nonpos, SKMAX_ATTR_AVX2, __m256d, __m256i, _mm256, si256,
                     _mm256_set1_epi64x, skmax_max_epi64_avx2)
SKMAX_EXP_NONPOS_VEC(skmax_exp8_nonpos, SKMAX_ATTR_AVX512, __m512d, __m512i, _mm512, si512,
                     _mm512_set1_epi64, _mm512_max_epi64)

/* Loads of 4 (AVX2) or 8 (AVX-512) entries of a double or float row as
   doubles; the _TAIL forms read only the first m (masked) and give 0 beyond. */
#define SKMAX_LOAD4_double(a, k) _mm256_loadu_pd((a) + (k))
#define SKMAX_LOAD4_float(a, k) _mm256_cvtps_pd(_mm_loadu_ps((a) + (k)))
#define SKMAX_TAIL4_double(a, k, m) _mm256_maskload_pd((a) + (k), m)
#define SKMAX_TAIL4_float(a, k, m) \
    _mm256_cvtps_pd(_mm_maskload_ps((a) + (k), _mm256_cvtepi64_epi32_avx2(m)))
#define SKMAX_LOAD8_double(a, k) _mm512_loadu_pd((a) + (k))
#define SKMAX_LOAD8_float(a, k) _mm512_cvtps_pd(_mm256_loadu_ps((a) + (k)))
#define SKMAX_TAIL8_double(a, k, m) _mm512_maskz_loadu_pd(m, (a) + (k))
#define SKMAX_TAIL8_float(a, k, m) _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, (a) + (k)))

/* the 32-bit lanes of a 64-bit lane mask (all ones or zeros), for float loads */
__attribute__((target("avx2,fma")))
static inline __m128i _mm256_cvtepi64_epi32_avx2(__m256i m) {
    __m256i packed = _mm256_permutevar8x32_epi32(m, _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0));
    return _mm256_castsi256_si128(packed);
}

#define SKMAX_SHIFT_EXP_AVX2(NAME, T) \
    __attribute__((target("avx2,fma"))) \
    static int NAME(const T* a, double* d, double* e, int K, double inv_T, double* s_rest) { \
        const __m256d neg_inf = _mm256_set1_pd(-HUGE_VAL); \
        const __m256d floor_d = _mm256_set1_pd(-1.7976931348623157e308); \
        int k, tail = K & 3, nmax = 0; \
        __m256i mask = _mm256_cmpgt_epi64(_mm256_set1_epi64x(tail), \
                                          _mm256_setr_epi64x(0, 1, 2, 3)); \
        __m256d vmax = neg_inf, bad = _mm256_setzero_pd(), v, dk, ek, is_max; \
        __m256d vT, vam, rest = _mm256_setzero_pd(); \
        __m128d h; \
        double amax; \
        for (k = 0; k + 4 <= K; k += 4) { \
            v = SKMAX_LOAD4_##T(a, k); \
            vmax = _mm256_max_pd(vmax, v); \
            bad = _mm256_or_pd(bad, _mm256_cmp_pd(v, v, _CMP_UNORD_Q)); \
        } \
        if (tail) { \
            v = _mm256_blendv_pd(neg_inf, SKMAX_TAIL4_##T(a, k, mask), \
                                 _mm256_castsi256_pd(mask)); \
            vmax = _mm256_max_pd(vmax, v); \
            bad = _mm256_or_pd(bad, _mm256_cmp_pd(v, v, _CMP_UNORD_Q)); \
        } \
        h = _mm_max_pd(_mm256_castpd256_pd128(vmax), _mm256_extractf128_pd(vmax, 1)); \
        amax = _mm_cvtsd_f64(_mm_max_sd(h, _mm_unpackhi_pd(h, h))); \
        if (_mm256_movemask_pd(bad) || amax - amax != 0.0) return -1; \
        vam = _mm256_set1_pd(amax); \
        vT = _mm256_set1_pd(inv_T); \
        for (k = 0; k + 4 <= K; k += 4) { \
            v = SKMAX_LOAD4_##T(a, k); \
            dk = _mm256_max_pd(_mm256_mul_pd(_mm256_sub_pd(v, vam), vT), floor_d); \
            ek = skmax_exp4_nonpos(dk); \
            _mm256_storeu_pd(d + k, dk); \
            _mm256_storeu_pd(e + k, ek); \
            is_max = _mm256_cmp_pd(v, vam, _CMP_EQ_OQ); \
            rest = _mm256_add_pd(rest, _mm256_andnot_pd(is_max, ek)); \
            nmax += __builtin_popcount(_mm256_movemask_pd(is_max)); \
        } \
        if (tail) { \
            v = SKMAX_TAIL4_##T(a, k, mask); \
            dk = _mm256_max_pd(_mm256_mul_pd(_mm256_sub_pd(v, vam), vT), floor_d); \
            ek = _mm256_and_pd(skmax_exp4_nonpos(dk), _mm256_castsi256_pd(mask)); \
            _mm256_maskstore_pd(d + k, mask, dk); \
            _mm256_maskstore_pd(e + k, mask, ek); \
            is_max = _mm256_and_pd(_mm256_cmp_pd(v, vam, _CMP_EQ_OQ), \
                                   _mm256_castsi256_pd(mask)); \
            rest = _mm256_add_pd(rest, _mm256_andnot_pd(is_max, ek)); \
            nmax += __builtin_popcount(_mm256_movemask_pd(is_max)); \
        } \
        h = _mm_add_pd(_mm256_castpd256_pd128(rest), _mm256_extractf128_pd(rest, 1)); \
        *s_rest = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h))) + (double) (nmax - 1); \
        return 0; \
    }

#define SKMAX_SHIFT_EXP_AVX512(NAME, T) \
    __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma"))) \
    static int NAME(const T* a, double* d, double* e, int K, double inv_T, double* s_rest) { \
        const __m512d floor_d = _mm512_set1_pd(-1.7976931348623157e308); \
        int k, tail = K & 7, nmax = 0; \
        __mmask8 mask = (__mmask8) ((1u << tail) - 1u), bad = 0, is_max; \
        __m512d vmax = _mm512_set1_pd(-HUGE_VAL), v, dk, ek, vT, vam; \
        __m512d rest = _mm512_setzero_pd(); \
        double amax; \
        for (k = 0; k + 8 <= K; k += 8) { \
            v = SKMAX_LOAD8_##T(a, k); \
            vmax = _mm512_max_pd(vmax, v); \
            bad |= _mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q); \
        } \
        if (tail) { \
            v = SKMAX_TAIL8_##T(a, k, mask); \
            vmax = _mm512_mask_max_pd(vmax, mask, vmax, v); \
            bad |= _mm512_mask_cmp_pd_mask(mask, v, v, _CMP_UNORD_Q); \
        } \
        amax = _mm512_reduce_max_pd(vmax); \
        if (bad || amax - amax != 0.0) return -1; \
        vam = _mm512_set1_pd(amax); \
        vT = _mm512_set1_pd(inv_T); \
        for (k = 0; k + 8 <= K; k += 8) { \
            v = SKMAX_LOAD8_##T(a, k); \
            dk = _mm512_max_pd(_mm512_mul_pd(_mm512_sub_pd(v, vam), vT), floor_d); \
            ek = skmax_exp8_nonpos(dk); \
            _mm512_storeu_pd(d + k, dk); \
            _mm512_storeu_pd(e + k, ek); \
            is_max = _mm512_cmp_pd_mask(v, vam, _CMP_EQ_OQ); \
            rest = _mm512_mask_add_pd(rest, (__mmask8) ~is_max, rest, ek); \
            nmax += __builtin_popcount(is_max); \
        } \
        if (tail) { \
            v = SKMAX_TAIL8_##T(a, k, mask); \
            dk = _mm512_max_pd(_mm512_mul_pd(_mm512_sub_pd(v, vam), vT), floor_d); \
            ek = skmax_exp8_nonpos(dk); \
            _mm512_mask_storeu_pd(d + k, mask, dk); \
            _mm512_mask_storeu_pd(e + k, mask, ek); \
            is_max = _mm512_mask_cmp_pd_mask(mask, v, vam, _CMP_EQ_OQ); \
            rest = _mm512_mask_add_pd(rest, (__mmask8) (mask & ~is_max), rest, ek); \
            nmax += __builtin_popcount(is_max); \
        } \
        *s_rest = _mm512_reduce_add_pd(rest) + (double) (nmax - 1); \
        return 0; \
    }

SKMAX_SHIFT_EXP_AVX2(skmax_shift_exp_f64_avx2v, double)
SKMAX_SHIFT_EXP_AVX2(skmax_shift_exp_f32_avx2v, float)
SKMAX_SHIFT_EXP_AVX512(skmax_shift_exp_f64_avx512, double)
SKMAX_SHIFT_EXP_AVX512(skmax_shift_exp_f32_avx512, float)
#endif

/* Rows of at least this many logits take the AVX-512 row head where the CPU
   has it; shorter rows the AVX2 one (note 5). */
#define SKMAX_AVX512_HEAD_MIN_K 8

static int skmax_shift_exp_f64(const double* a, double* d, double* e, int K, double inv_T,
                               double* s_rest) {
#ifdef SKMAX_X86_DISPATCH
    if (K >= SKMAX_AVX512_HEAD_MIN_K && skmax_has_avx512())
        return skmax_shift_exp_f64_avx512(a, d, e, K, inv_T, s_rest);
    if (skmax_has_avx2()) return skmax_shift_exp_f64_avx2v(a, d, e, K, inv_T, s_rest);
#endif
    return skmax_shift_exp_f64_generic(a, d, e, K, inv_T, s_rest);
}
static int skmax_shift_exp_f32(const float* a, double* d, double* e, int K, double inv_T,
                               double* s_rest) {
#ifdef SKMAX_X86_DISPATCH
    if (K >= SKMAX_AVX512_HEAD_MIN_K && skmax_has_avx512())
        return skmax_shift_exp_f32_avx512(a, d, e, K, inv_T, s_rest);
    if (skmax_has_avx2()) return skmax_shift_exp_f32_avx2v(a, d, e, K, inv_T, s_rest);
#endif
    return skmax_shift_exp_f32_generic(a, d, e, K, inv_T, s_rest);
}
static inline double skmax_row_range_f64(const double* a, int K, int* finite) {
    SKMAX_DISPATCH(skmax_row_range_f64, (a, K, finite))
}
static inline double skmax_row_range_f32(const float* a, int K, int* finite) {
    SKMAX_DISPATCH(skmax_row_range_f32, (a, K, finite))
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

/* One float32 row of the cross-entropy (focal exponent 0, hard label y):
   a (K float logits) -> scale * (p - q) in place, p into out_p when given,
   with q = (1 - eps) onehot(y) + eps / K; *loss receives the row's
   unweighted loss. The shift, exp and stores run in float (note 5); the
   sums, the log and the label's entry in double (skmax_xent_label_grad,
   skmax_xent_loss: the double row's own closing terms).
   Returns 0 and leaves the row untouched when it is not one this path takes
   (note 6): the caller then runs the double row. */
#define SKMAX_XENT_F32(NAME) \
    static int NAME(float* a, float* out_p, int K, int y, double inv_T, double eps, \
                    double scale, double* loss) { \
        int k, nmax = 0; \
        float amax = a[0], amin = a[0], finite = 0.0f, fT = (float) inv_T, fmul, foff; \
        double rest = 0.0, dsum = 0.0, off = eps / K, dy, ey, inv_s; \
        SKMAX_PRAGMA(omp simd reduction(max:amax) reduction(min:amin) reduction(+:finite)) \
        for (k = 0; k < K; k++) { \
            amax = a[k] > amax ? a[k] : amax; \
            amin = a[k] < amin ? a[k] : amin; \
            finite += a[k] - a[k]; \
        } \
        if (finite != 0.0f || !((double) amax - (double) amin < 1e38) \
            || !(((double) amax - (double) amin) * inv_T < 1e37) || !(inv_T < 1e37)) return 0; \
        dy = ((double) a[y] - (double) amax) * inv_T; \
        SKMAX_PRAGMA(omp simd reduction(+:rest, dsum, nmax)) \
        for (k = 0; k < K; k++) { \
            float dk = (a[k] - amax) * fT; \
            float ek = skmax_expf_nonpos(dk); \
            nmax += a[k] == amax; \
            rest += a[k] == amax ? 0.0 : (double) ek; \
            dsum += (double) dk; \
            a[k] = ek; \
        } \
        rest += (double) (nmax - 1); \
        inv_s = 1.0 / (1.0 + rest); \
        ey = (double) a[y]; \
        *loss = skmax_xent_loss(log1p(rest), dy, dsum, eps, off); \
        if (out_p != NULL) { \
            float finv_s = (float) inv_s; \
            SKMAX_PRAGMA(omp simd) \
            for (k = 0; k < K; k++) out_p[k] = a[k] * finv_s; \
        } \
        fmul = (float) (scale * inv_s); \
        foff = (float) (scale * off); \
        SKMAX_PRAGMA(omp simd) \
        for (k = 0; k < K; k++) a[k] = a[k] * fmul - foff; \
        a[y] = (float) (scale * skmax_xent_label_grad(rest, inv_s, dy, ey, eps, off)); \
        return 1; \
    }

SKMAX_SOFTMAX_F32(skmax_softmax_f32_generic)
SKMAX_XENT_F32(skmax_xent_f32_generic)
#ifdef SKMAX_X86_DISPATCH
__attribute__((target("avx2,fma"))) SKMAX_SOFTMAX_F32(skmax_softmax_f32_avx2)
__attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))
SKMAX_SOFTMAX_F32(skmax_softmax_f32_avx512)
__attribute__((target("avx2,fma"))) SKMAX_XENT_F32(skmax_xent_f32_avx2)

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

#ifdef SKMAX_X86_DISPATCH
/* skmax_expf_nonpos on 16 floats (2^n split as in skmax_exp4_nonpos). */
__attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))
static inline __m512 skmax_exp16f_nonpos(__m512 x) {
    const __m512 shifter = _mm512_set1_ps(12582912.0f);
    const __m512i lo = _mm512_set1_epi32(-126), bias = _mm512_set1_epi32(127);
    __m512 t, r, p, s1, s2;
    __m512i n, n1;
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_setzero_ps());
    t = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), shifter);
    n = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(0x4B400000));
    t = _mm512_sub_ps(t, shifter);
    r = _mm512_fnmadd_ps(t, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(t, _mm512_set1_ps(-2.12194440e-4f), r);
    p = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 5040.0f), r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    n1 = _mm512_max_epi32(n, lo);
    s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
    s2 = _mm512_castsi512_ps(_mm512_slli_epi32(
        _mm512_add_epi32(_mm512_sub_epi32(n, n1), bias), 23));
    return _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
}

/* sum of the 16 floats of v, accumulated in two double vectors */
#define SKMAX_ADD16_TO_F64(acc_lo, acc_hi, v) do { \
        acc_lo = _mm512_add_pd(acc_lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v))); \
        acc_hi = _mm512_add_pd(acc_hi, _mm512_cvtps_pd(_mm256_castpd_ps( \
            _mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)))); \
    } while (0)

/* SKMAX_XENT_F32 in AVX-512 intrinsics, masked tails (note 5): a row of 10
   or 26 logits is one or two vectors, where the compiled loops above run
   mostly in their scalar remainders. */
__attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))
static int skmax_xent_f32_avx512v(float* a, float* out_p, int K, int y, double inv_T,
                                  double eps, double scale, double* loss) {
    int k, nmax = 0;
    __mmask16 mask = (__mmask16) ((1u << (K & 15)) - 1u), bad = 0, is_max;
    __m512 vmax = _mm512_set1_ps(-HUGE_VALF), vmin = _mm512_set1_ps(HUGE_VALF), v, dk, ek;
    __m512 vam, vT, vmul, voff;
    __m512d rest_lo = _mm512_setzero_pd(), rest_hi = _mm512_setzero_pd();
    __m512d dsum_lo = _mm512_setzero_pd(), dsum_hi = _mm512_setzero_pd();
    float amax, amin;
    double rest, dsum, off = eps / K, dy, ey, inv_s;
    for (k = 0; k + 16 <= K; k += 16) {
        v = _mm512_loadu_ps(a + k);
        vmax = _mm512_max_ps(vmax, v);
        vmin = _mm512_min_ps(vmin, v);
        bad |= _mm512_cmp_ps_mask(_mm512_sub_ps(v, v), _mm512_setzero_ps(), _CMP_NEQ_UQ);
    }
    if (mask) {
        v = _mm512_maskz_loadu_ps(mask, a + k);
        vmax = _mm512_mask_max_ps(vmax, mask, vmax, v);
        vmin = _mm512_mask_min_ps(vmin, mask, vmin, v);
        bad |= _mm512_mask_cmp_ps_mask(mask, _mm512_sub_ps(v, v), _mm512_setzero_ps(),
                                       _CMP_NEQ_UQ);
    }
    amax = _mm512_reduce_max_ps(vmax);
    amin = _mm512_reduce_min_ps(vmin);
    if (bad || !((double) amax - (double) amin < 1e38)
        || !(((double) amax - (double) amin) * inv_T < 1e37) || !(inv_T < 1e37)) return 0;
    dy = ((double) a[y] - (double) amax) * inv_T;
    vam = _mm512_set1_ps(amax);
    vT = _mm512_set1_ps((float) inv_T);
    for (k = 0; k + 16 <= K; k += 16) {
        v = _mm512_loadu_ps(a + k);
        dk = _mm512_mul_ps(_mm512_sub_ps(v, vam), vT);
        ek = skmax_exp16f_nonpos(dk);
        is_max = _mm512_cmp_ps_mask(v, vam, _CMP_EQ_OQ);
        nmax += __builtin_popcount(is_max);
        SKMAX_ADD16_TO_F64(rest_lo, rest_hi, _mm512_maskz_mov_ps((__mmask16) ~is_max, ek));
        SKMAX_ADD16_TO_F64(dsum_lo, dsum_hi, dk);
        _mm512_storeu_ps(a + k, ek);
    }
    if (mask) {
        v = _mm512_maskz_loadu_ps(mask, a + k);
        dk = _mm512_maskz_mov_ps(mask, _mm512_mul_ps(_mm512_sub_ps(v, vam), vT));
        ek = skmax_exp16f_nonpos(dk);
        is_max = _mm512_mask_cmp_ps_mask(mask, v, vam, _CMP_EQ_OQ);
        nmax += __builtin_popcount(is_max);
        SKMAX_ADD16_TO_F64(rest_lo, rest_hi,
                           _mm512_maskz_mov_ps((__mmask16) (mask & ~is_max), ek));
        SKMAX_ADD16_TO_F64(dsum_lo, dsum_hi, dk);
        _mm512_mask_storeu_ps(a + k, mask, ek);
    }
    rest = _mm512_reduce_add_pd(_mm512_add_pd(rest_lo, rest_hi)) + (double) (nmax - 1);
    dsum = _mm512_reduce_add_pd(_mm512_add_pd(dsum_lo, dsum_hi));
    inv_s = 1.0 / (1.0 + rest);
    ey = (double) a[y];
    *loss = skmax_xent_loss(log1p(rest), dy, dsum, eps, off);
    if (out_p != NULL) {
        vmul = _mm512_set1_ps((float) inv_s);
        for (k = 0; k + 16 <= K; k += 16)
            _mm512_storeu_ps(out_p + k, _mm512_mul_ps(_mm512_loadu_ps(a + k), vmul));
        if (mask)
            _mm512_mask_storeu_ps(out_p + k, mask,
                                  _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, a + k), vmul));
    }
    vmul = _mm512_set1_ps((float) (scale * inv_s));
    voff = _mm512_set1_ps((float) (scale * off));
    for (k = 0; k + 16 <= K; k += 16)
        _mm512_storeu_ps(a + k, _mm512_fmsub_ps(_mm512_loadu_ps(a + k), vmul, voff));
    if (mask)
        _mm512_mask_storeu_ps(a + k, mask,
                              _mm512_fmsub_ps(_mm512_maskz_loadu_ps(mask, a + k), vmul, voff));
    a[y] = (float) (scale * skmax_xent_label_grad(rest, inv_s, dy, ey, eps, off));
    return 1;
}
#endif

/* The float32 cross-entropy row: AVX-512 intrinsics at any K where the CPU
   has them; else the compiled AVX2 or portable copy from SKMAX_AVX512_MIN_K
   logits up. Shorter rows there return 0 and take the double row: the
   compiled float loops run mostly in their scalar remainders at few classes,
   where the double row's intrinsic head is faster. */
static inline int skmax_xent_f32(float* a, float* out_p, int K, int y, double inv_T,
                                 double eps, double scale, double* loss) {
#ifdef SKMAX_X86_DISPATCH
    if (skmax_has_avx512())
        return skmax_xent_f32_avx512v(a, out_p, K, y, inv_T, eps, scale, loss);
    if (K >= SKMAX_AVX512_MIN_K && skmax_has_avx2())
        return skmax_xent_f32_avx2(a, out_p, K, y, inv_T, eps, scale, loss);
#endif
    if (K >= SKMAX_AVX512_MIN_K)
        return skmax_xent_f32_generic(a, out_p, K, y, inv_T, eps, scale, loss);
    return 0;
}

#endif  /* SKMAX_FAST_EXP_H */
