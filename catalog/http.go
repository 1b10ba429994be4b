package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"omnihub/api"
	"omnihub/errs"
	"omnihub/sheet"
)

// Permissions of the catalog routes.
const (
	PermRead  = "catalog.read"
	PermWrite = "catalog.write"
)

// ComponentsInput replaces a bundle's components.
type ComponentsInput struct {
	Components []Component `json:"components"`
}

// ImportProblem is the problem+json body of a rejected sheet: the usual
// problem fields plus every row-level error.
type ImportProblem struct {
	api.Problem
	Errors []sheet.RowError `json:"errors"`
}

// Routes registers the catalog's HTTP API on srv.
func (s *Service) Routes(srv *api.Server) {
	tags := []string{"catalog"}
	srv.HandleOp(api.Op{Method: "GET", Path: "/api/v1/catalog/products", Permission: PermRead, Tags: tags,
		Summary: "List products by code", Query: []string{"cursor", "limit"}, Response: api.Page[Product]{}}, s.httpListProducts)
	srv.HandleOp(api.Op{Method: "POST", Path: "/api/v1/catalog/products", Permission: PermWrite, Tags: tags,
		Summary: "Create a product (SPU)", Request: ProductInput{}, Response: Product{}, Status: http.StatusCreated}, s.httpCreateProduct)
	srv.HandleOp(api.Op{Method: "GET", Path: "/api/v1/catalog/products/{id}", Permission: PermRead, Tags: tags,
		Summary: "Get a product", Response: Product{}}, s.httpGetProduct)
	srv.HandleOp(api.Op{Method: "PUT", Path: "/api/v1/catalog/products/{id}", Permission: PermWrite, Tags: tags,
		Summary: "Replace a product's fields", Request: ProductInput{}, Response: Product{}}, s.httpUpdateProduct)

	srv.HandleOp(api.Op{Method: "GET", Path: "/api/v1/catalog/skus", Permission: PermRead, Tags: tags,
		Summary: "List SKUs by code", Description: "q matches a code prefix or a name substring.",
		Query: []string{"q", "product_id", "kind", "status", "cursor", "limit"}, Response: api.Page[SKU]{}}, s.httpListSKUs)
	srv.HandleOp(api.Op{Method: "POST", Path: "/api/v1/catalog/skus", Permission: PermWrite, Tags: tags,
		Summary: "Create a SKU (a bundle with its components)", Request: SKUInput{}, Response: SKU{}, Status: http.StatusCreated}, s.httpCreateSKU)
	srv.HandleOp(api.Op{Method: "GET", Path: "/api/v1/catalog/skus/{id}", Permission: PermRead, Tags: tags,
		Summary: "Get a SKU by id", Response: SKU{}}, s.httpGetSKU)
	srv.HandleOp(api.Op{Method: "GET", Path: "/api/v1/catalog/skus/by-code/{code}", Permission: PermRead, Tags: tags,
		Summary: "Get a SKU by its code (商家编码)", Response: SKU{}}, s.httpGetSKUByCode)
	srv.HandleOp(api.Op{Method: "GET", Path: "/api/v1/catalog/skus/by-barcode/{barcode}", Permission: PermRead, Tags: tags,
		Summary: "Get a SKU by its barcode (scanning)", Response: SKU{}}, s.httpGetSKUByBarcode)
	srv.HandleOp(api.Op{Method: "PUT", Path: "/api/v1/catalog/skus/{id}", Permission: PermWrite, Tags: tags,
		Summary: "Replace a SKU's fields", Description: "The kind of a SKU cannot change.",
		Request: SKUInput{}, Response: SKU{}}, s.httpUpdateSKU)
	srv.HandleOp(api.Op{Method: "PUT", Path: "/api/v1/catalog/skus/{id}/components", Permission: PermWrite, Tags: tags,
		Summary: "Replace a bundle's components", Request: ComponentsInput{}, Response: SKU{}}, s.httpSetComponents)

	srv.HandleOp(api.Op{Method: "GET", Path: "/api/v1/catalog/bindings", Permission: PermRead, Tags: tags,
		Summary: "List listing bindings of a shop, or of a SKU (sku_id, optionally with shop_id)",
		Query:   []string{"shop_id", "sku_id", "after_item", "after_sku", "limit"}, Response: []Binding{}}, s.httpListBindings)
	srv.HandleOp(api.Op{Method: "POST", Path: "/api/v1/catalog/bindings", Permission: PermWrite, Tags: tags,
		Summary: "Bind a platform listing to a SKU (replaces an existing binding)", Request: BindInput{}, Response: Binding{}}, s.httpBind)
	srv.HandleOp(api.Op{Method: "DELETE", Path: "/api/v1/catalog/bindings", Permission: PermWrite, Tags: tags,
		Summary: "Remove a listing binding", Query: []string{"shop_id", "platform_item_id", "platform_sku_id"},
		Status: http.StatusNoContent}, s.httpUnbind)

	srv.HandleOp(api.Op{Method: "POST", Path: "/api/v1/catalog/import", Permission: PermWrite, Tags: tags,
		Summary: "Import a product sheet (.xlsx or .csv)",
		Description: "Body: the file itself with Content-Type text/csv or the xlsx MIME type, or multipart/form-data " +
			"with a part named file. Every row is validated first; if any is bad nothing is written and the answer is " +
			"a 400 problem+json whose errors list names each bad row and column. See docs/catalog.md for the columns.",
		Query: []string{"format"}, Response: ImportResult{}}, s.httpImport)
	srv.HandleOp(api.Op{Method: "GET", Path: "/api/v1/catalog/export", Permission: PermRead, Tags: tags,
		Summary:     "Export every SKU as a product sheet (format=xlsx|csv, headers=en|zh)",
		Description: "The file is in the format import reads.", Query: []string{"format", "headers"}}, s.httpExport)
}

func (s *Service) httpListProducts(w http.ResponseWriter, r *http.Request) error {
	limit, err := api.QueryInt(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	items, err := s.ListProducts(r.Context(), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	page := api.Page[Product]{Items: items}
	if len(items) == limit {
		page.NextCursor = items[len(items)-1].Code
	}
	return api.WriteJSON(w, http.StatusOK, page)
}

func (s *Service) httpCreateProduct(w http.ResponseWriter, r *http.Request) error {
	var in ProductInput
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	p, err := s.CreateProduct(r.Context(), in)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, p)
}

func (s *Service) httpGetProduct(w http.ResponseWriter, r *http.Request) error {
	p, err := s.GetProduct(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, p)
}

func (s *Service) httpUpdateProduct(w http.ResponseWriter, r *http.Request) error {
	var in ProductInput
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	p, err := s.UpdateProduct(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, p)
}

func (s *Service) httpListSKUs(w http.ResponseWriter, r *http.Request) error {
	limit, err := api.QueryInt(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := SKUFilter{Query: q.Get("q"), ProductID: q.Get("product_id"), Kind: Kind(q.Get("kind")),
		Status: Status(q.Get("status")), AfterCode: q.Get("cursor"), Limit: limit}
	if f.Kind != "" && f.Kind != Simple && f.Kind != Bundle {
		return errs.WithField("kind", "must be simple or bundle")
	}
	if f.Status != "" && f.Status != Active && f.Status != Inactive {
		return errs.WithField("status", "must be active or inactive")
	}
	items, err := s.ListSKUs(r.Context(), f)
	if err != nil {
		return err
	}
	page := api.Page[SKU]{Items: items}
	if len(items) == limit {
		page.NextCursor = items[len(items)-1].Code
	}
	return api.WriteJSON(w, http.StatusOK, page)
}

func (s *Service) httpCreateSKU(w http.ResponseWriter, r *http.Request) error {
	var in SKUInput
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	k, err := s.CreateSKU(r.Context(), in)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, k)
}

func (s *Service) httpGetSKU(w http.ResponseWriter, r *http.Request) error {
	k, err := s.GetSKU(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, k)
}

func (s *Service) httpGetSKUByCode(w http.ResponseWriter, r *http.Request) error {
	k, err := s.SKUByCode(r.Context(), r.PathValue("code"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, k)
}

func (s *Service) httpGetSKUByBarcode(w http.ResponseWriter, r *http.Request) error {
	k, err := s.SKUByBarcode(r.Context(), r.PathValue("barcode"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, k)
}

func (s *Service) httpUpdateSKU(w http.ResponseWriter, r *http.Request) error {
	var in SKUInput
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	k, err := s.UpdateSKU(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, k)
}

func (s *Service) httpSetComponents(w http.ResponseWriter, r *http.Request) error {
	var in ComponentsInput
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	k, err := s.SetComponents(r.Context(), r.PathValue("id"), in.Components)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, k)
}

func (s *Service) httpListBindings(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var (
		out []Binding
		err error
	)
	switch {
	case q.Get("sku_id") != "":
		out, err = s.BindingsForSKU(r.Context(), q.Get("shop_id"), q.Get("sku_id"))
	case q.Get("shop_id") != "":
		limit, lerr := api.QueryInt(r, "limit", 1000, 1, 10000)
		if lerr != nil {
			return lerr
		}
		out, err = s.BindingsForShop(r.Context(), q.Get("shop_id"), q.Get("after_item"), q.Get("after_sku"), limit)
	default:
		return errs.E(errs.Invalid, "give shop_id or sku_id").WithField("shop_id", "required without sku_id")
	}
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

func (s *Service) httpBind(w http.ResponseWriter, r *http.Request) error {
	var in BindInput
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	b, err := s.Bind(r.Context(), in)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, b)
}

func (s *Service) httpUnbind(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Get("shop_id") == "" || q.Get("platform_item_id") == "" {
		return errs.E(errs.Invalid, "shop_id and platform_item_id are required").WithField("platform_item_id", "required")
	}
	if err := s.Unbind(r.Context(), q.Get("shop_id"), q.Get("platform_item_id"), q.Get("platform_sku_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) httpImport(w http.ResponseWriter, r *http.Request) error {
	body, name, ctype, err := uploadedFile(r)
	if err != nil {
		return err
	}
	var f sheet.Format
	if v := r.URL.Query().Get("format"); v != "" {
		f, err = sheet.ParseFormat(v)
	} else {
		f, err = sheet.FormatOf(name, ctype)
	}
	if err != nil {
		return err
	}
	res, err := s.Import(r.Context(), bytes.NewReader(body), f)
	if rep, ok := sheet.ReportOf(err); ok {
		return writeReport(w, r, err, rep)
	}
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, res)
}

// uploadedFile returns the file of an import request: a multipart part
// named "file", or the raw body.
func uploadedFile(r *http.Request) (data []byte, name, contentType string, err error) {
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	if mt == "multipart/form-data" {
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, "", "", errs.Wrap(err, errs.Invalid, "malformed multipart body")
		}
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil, "", "", errs.E(errs.Invalid, "multipart body has no part named file").WithField("file", "required")
			}
			if err != nil {
				return nil, "", "", bodyErr(err)
			}
			if part.FormName() != "file" {
				part.Close()
				continue
			}
			data, err := io.ReadAll(part)
			if err != nil {
				return nil, "", "", bodyErr(err)
			}
			return data, part.FileName(), part.Header.Get("Content-Type"), nil
		}
	}
	data, err = io.ReadAll(r.Body)
	if err != nil {
		return nil, "", "", bodyErr(err)
	}
	return data, "", ct, nil
}

func bodyErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errs.Wrap(mbe, errs.Invalid, "request body too large (limit %d bytes)", mbe.Limit)
	}
	return errs.Wrap(err, errs.Invalid, "read request body")
}

// writeReport answers a rejected sheet: problem+json with the row errors.
func writeReport(w http.ResponseWriter, r *http.Request, err error, rep *sheet.Report) error {
	p := ImportProblem{Problem: api.Problem{
		Type: "https://omnihub.dev/problems/" + string(errs.Invalid), Title: http.StatusText(http.StatusBadRequest),
		Status: http.StatusBadRequest, Detail: errs.MessageOf(err), Code: errs.Invalid, RequestID: api.RequestID(r.Context()),
	}, Errors: rep.Errors}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusBadRequest)
	return json.NewEncoder(w).Encode(p)
}

func (s *Service) httpExport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := sheet.CSV
	if v := q.Get("format"); v != "" {
		var err error
		if f, err = sheet.ParseFormat(v); err != nil {
			return err
		}
	}
	opts := ExportOptions{}
	switch strings.ToLower(q.Get("headers")) {
	case "", "en":
	case "zh":
		opts.Chinese = true
	default:
		return errs.WithField("headers", "must be en or zh")
	}
	// Build the file first so that a failure is still a clean error answer.
	var buf bytes.Buffer
	if _, err := s.Export(r.Context(), &buf, f, opts); err != nil {
		return err
	}
	w.Header().Set("Content-Type", f.ContentType())
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="products.%s"`, f))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(buf.Bytes())
	return err
}
