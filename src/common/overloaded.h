// Overloaded: a visitor made of lambdas, for std::visit over the protocol's
// variants.
//
// Thread-safety: a type; no state.
#pragma once

namespace kiln {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace kiln
