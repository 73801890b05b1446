// What a tmlp.Table holds: an in-memory table or a memory-mapped .tmlpd file, behind one view.
#pragma once

#include <memory>
#include <utility>

#include "tmlp/data.hpp"
#include "tmlp/dataset.hpp"

namespace tmlp::python {

class table_holder {
 public:
  explicit table_holder(table t)
      : table_(std::make_unique<table>(std::move(t))), view_(table_->view()) {}
  explicit table_holder(mapped_dataset d)
      : mapped_(std::make_unique<mapped_dataset>(std::move(d))), view_(mapped_->view()) {}

  // Every column; valid while this holder lives.
  const table_view& view() const noexcept { return view_; }
  bool mapped() const noexcept { return mapped_ != nullptr; }

 private:
  std::unique_ptr<table> table_;
  std::unique_ptr<mapped_dataset> mapped_;
  table_view view_;
};

}  // namespace tmlp::python
