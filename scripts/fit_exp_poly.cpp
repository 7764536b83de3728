// scripts/fit_exp_poly.cpp: the degree-5 polynomial of the recurrent gate kernels' exp (kernels/x86/rnn_avx512.cpp,
// exp_neg): a Remez exchange for the minimax relative error of p(r) ≈ e^r on [−ln2/2, ln2/2] (a 0.05 % margin),
// in long double, then the error of the float-rounded coefficients evaluated by Horner with FMAs.
//   g++ -O2 scripts/fit_exp_poly.cpp -o /tmp/fit_exp_poly && /tmp/fit_exp_poly
// Prints c0..c5 (c0 + c1·r + … + c5·r⁵) and the measured maximum relative error (≈ 7.2e-8 exact, 1.9e-7 in float).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

using LD = long double;

int main() {
    constexpr int D = 5, N = D + 2;  // D + 1 coefficients and the error level E: D + 2 alternation points
    const LD a = std::log(2.0L) / 2 * 1.0005L;
    std::vector<LD> x(N), c(D + 1);
    for (int i = 0; i < N; ++i) x[i] = -a * std::cos(3.14159265358979323846264L * i / (N - 1));
    for (int it = 0; it < 30; ++it) {
        // Σ_k c_k x_i^k − (−1)^i·E·e^(x_i) = e^(x_i): relative error ±E alternating at the points
        std::vector<std::vector<LD>> A(N, std::vector<LD>(N + 1));
        for (int i = 0; i < N; ++i) {
            LD p = 1;
            for (int k = 0; k <= D; ++k, p *= x[i]) A[i][k] = p;
            A[i][D + 1] = (i % 2 ? 1 : -1) * std::exp(x[i]);
            A[i][N] = std::exp(x[i]);
        }
        for (int i = 0; i < N; ++i) {  // Gauss-Jordan with partial pivoting
            int piv = i;
            for (int r = i + 1; r < N; ++r)
                if (std::fabs(A[r][i]) > std::fabs(A[piv][i])) piv = r;
            std::swap(A[i], A[piv]);
            for (int r = 0; r < N; ++r)
                if (r != i) {
                    const LD f = A[r][i] / A[i][i];
                    for (int k = i; k <= N; ++k) A[r][k] -= f * A[i][k];
                }
        }
        for (int k = 0; k <= D; ++k) c[k] = A[k][N] / A[k][k];
        // new points: the extremum of each run of one sign of the error on a fine grid
        constexpr int G = 200000;
        std::vector<LD> gx(G + 1), e(G + 1);
        for (int i = 0; i <= G; ++i) {
            gx[i] = -a + 2 * a * i / G;
            LD p = 0;
            for (int k = D; k >= 0; --k) p = p * gx[i] + c[k];
            e[i] = p / std::exp(gx[i]) - 1;
        }
        std::vector<LD> nx;
        for (int i = 0; i <= G;) {
            int j = i, best = i;
            for (; j <= G && (e[j] >= 0) == (e[i] >= 0); ++j)
                if (std::fabs(e[j]) > std::fabs(e[best])) best = j;
            nx.push_back(gx[best]);
            i = j;
        }
        if (static_cast<int>(nx.size()) != N) break;
        x = nx;
    }
    for (int k = 0; k <= D; ++k) std::printf("c%d = %.10Le\n", k, c[k]);
    double worst = 0;
    for (int i = 0; i <= 1000000; ++i) {
        const auto r = static_cast<float>(-a + 2 * a * i / 1000000.0L);
        auto p = static_cast<float>(c[D]);
        for (int k = D - 1; k >= 0; --k) p = std::fma(p, r, static_cast<float>(c[k]));
        worst = std::max(worst, std::fabs(p / std::exp(static_cast<double>(r)) - 1));
    }
    std::printf("max relative error, float coefficients, Horner with FMA: %.3e\n", worst);
}
